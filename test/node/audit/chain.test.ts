// The hash chain on its own: the hash is SHA-256 over the JCS form of the six fields, and verifyChain
// names the first bad seq and the reason for each kind of damage, including anchors and mid-chain starts.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import {
  auditHash,
  buildAuditEntry,
  GENESIS_HASH,
  parseChainPoint,
  UnparsableEntry,
  verifyChain,
} from '../../../src/node/features/audit/chain.ts';
import type { AuditEntry } from '../../../src/store/ports/audit.ts';

function chainOf(n: number): AuditEntry[] {
  const entries: AuditEntry[] = [];
  for (let i = 1; i <= n; i++) {
    const last = entries[entries.length - 1] ?? null;
    entries.push(
      buildAuditEntry(last, {
        ts: new Date(Date.UTC(2026, 2, 1, 0, i)).toISOString(),
        event_type: 'fact_write',
        principal: i % 2 ? 'user:alice' : null,
        detail: { i, z: 'last', a: { nested: [1, 2] } },
      }),
    );
  }
  return entries;
}

async function* asAsync<T>(items: T[]): AsyncGenerator<T> {
  for (const item of items) yield item;
}

test('the hash is hex SHA-256 of the JCS canonical JSON of seq, ts, event_type, principal, detail, prev_hash', () => {
  const [first] = chainOf(1);
  const canonical =
    '{"detail":{"a":{"nested":[1,2]},"i":1,"z":"last"},"event_type":"fact_write","prev_hash":"' +
    GENESIS_HASH +
    '","principal":"user:alice","seq":1,"ts":"2026-03-01T00:01:00.000Z"}';
  assert.equal(first!.hash, createHash('sha256').update(canonical).digest('hex'));
  assert.equal(first!.prev_hash, '0'.repeat(64));
  assert.equal(first!.seq, 1);
  // Key order of the input does not matter; the hash field itself is not covered.
  const { seq, ts, event_type, principal, detail, prev_hash } = first!;
  const reordered = { prev_hash, detail, principal, event_type, ts, seq, hash: 'x' };
  assert.equal(auditHash(reordered), first!.hash);
});

test('an intact chain verifies from an array or an async iterable; an empty one too', async () => {
  const entries = chainOf(25);
  for (const input of [entries, asAsync(entries)]) {
    const result = await verifyChain(input);
    assert.deepEqual(result, {
      ok: true,
      count: 25,
      start: { seq: 0, hash: GENESIS_HASH },
      lastSeq: 25,
      lastHash: entries[24]!.hash,
    });
  }
  assert.deepEqual(await verifyChain([]), {
    ok: true,
    count: 0,
    start: { seq: 0, hash: GENESIS_HASH },
    lastSeq: 0,
    lastHash: GENESIS_HASH,
  });
});

test('an edited field of entry k is a hash_mismatch at k', async () => {
  for (const edit of [
    (e: AuditEntry) => ({ ...e, detail: { ...e.detail, i: 999 } }),
    (e: AuditEntry) => ({ ...e, ts: '2026-03-01T00:00:00.000Z' }),
    (e: AuditEntry) => ({ ...e, event_type: 'auth_failed' }),
    (e: AuditEntry) => ({ ...e, principal: 'user:mallory' }),
  ]) {
    const entries = chainOf(10);
    entries[6] = edit(entries[6]!);
    const result = await verifyChain(entries);
    assert.equal(result.ok, false);
    assert.ok(!result.ok);
    assert.equal(result.firstBadSeq, 7);
    assert.equal(result.reason, 'hash_mismatch');
    assert.equal(result.count, 6);
  }
});

test('an edited entry whose hash was recomputed breaks the next link: prev_hash_mismatch at k+1', async () => {
  const entries = chainOf(10);
  const forged = { ...entries[3]!, detail: { forged: true } };
  entries[3] = { ...forged, hash: auditHash(forged) };
  const result = await verifyChain(entries);
  assert.ok(!result.ok);
  assert.equal(result.firstBadSeq, 5);
  assert.equal(result.reason, 'prev_hash_mismatch');
});

test('a deleted entry is a seq_gap naming the missing seq; several missing name the first', async () => {
  const entries = chainOf(10);
  let result = await verifyChain(entries.filter((e) => e.seq !== 4));
  assert.ok(!result.ok);
  assert.equal(result.firstBadSeq, 4);
  assert.equal(result.reason, 'seq_gap');
  assert.match(result.detail, /seq 4 is missing \(seq 5 follows seq 3\)/);
  result = await verifyChain(entries.filter((e) => e.seq < 4 || e.seq > 6));
  assert.ok(!result.ok);
  assert.equal(result.firstBadSeq, 4);
  assert.match(result.detail, /seq 4–6 are missing/);
  // The first entry deleted: the chain must start at seq 1.
  result = await verifyChain(entries.slice(1));
  assert.ok(!result.ok);
  assert.equal(result.firstBadSeq, 1);
  assert.equal(result.reason, 'seq_gap');
});

test('a deleted entry with the later ones renumbered is a hash_mismatch where the renumbering starts', async () => {
  const entries = chainOf(10).filter((e) => e.seq !== 4);
  const renumbered = entries.map((e) => (e.seq > 4 ? { ...e, seq: e.seq - 1 } : e));
  const result = await verifyChain(renumbered);
  assert.ok(!result.ok);
  assert.equal(result.firstBadSeq, 4);
  assert.equal(result.reason, 'hash_mismatch');
});

test('entries out of seq order or repeated are seq_order; two entries with swapped seqs a hash_mismatch', async () => {
  const entries = chainOf(10);
  let result = await verifyChain([...entries.slice(0, 5), entries[4]!, ...entries.slice(5)]);
  assert.ok(!result.ok);
  assert.equal(result.firstBadSeq, 5);
  assert.equal(result.reason, 'seq_order');

  result = await verifyChain([...entries.slice(0, 5), entries[2]!]);
  assert.ok(!result.ok);
  assert.equal(result.reason, 'seq_order');
  assert.equal(result.firstBadSeq, 3);

  // Rows read in seq order after their seq values were swapped: the row at seq 3 is really entry 8.
  const swapped = [...entries];
  swapped[2] = { ...entries[7]!, seq: 3 };
  swapped[7] = { ...entries[2]!, seq: 8 };
  result = await verifyChain(swapped);
  assert.ok(!result.ok);
  assert.equal(result.firstBadSeq, 3);
  assert.equal(result.reason, 'hash_mismatch');
});

test('malformed entries are reported at their own seq, or at the expected one when the seq is unusable', async () => {
  const entries: unknown[] = chainOf(5);
  const cases: [unknown, number, RegExp][] = [
    [{ ...(entries[2] as AuditEntry), detail: [1] }, 3, /seq 3: detail must be an object/],
    [{ ...(entries[2] as AuditEntry), hash: 'ABC' }, 3, /hash must be 64 lowercase hex/],
    [{ ...(entries[2] as AuditEntry), principal: 7 }, 3, /principal must be a string or null/],
    [{ ...(entries[2] as AuditEntry), seq: '3' }, 3, /entry after seq 2: seq must be a positive integer/],
    ['a string', 3, /entry is a string, not an object/],
    [null, 3, /entry is null/],
    [new UnparsableEntry('line 3 is not valid JSON'), 3, /line 3 is not valid JSON/],
  ];
  for (const [bad, seq, detail] of cases) {
    const input = [...entries];
    input[2] = bad;
    const result = await verifyChain(input);
    assert.ok(!result.ok, String(detail));
    assert.equal(result.reason, 'malformed');
    assert.equal(result.firstBadSeq, seq);
    assert.match(result.detail, detail);
  }
});

test('a truncated tail verifies on its own; an anchor detects it, and a rewritten chain', async () => {
  const entries = chainOf(10);
  const anchor = { seq: 8, hash: entries[7]!.hash };
  assert.equal((await verifyChain(entries.slice(0, 6))).ok, true);
  let result = await verifyChain(entries.slice(0, 6), { anchor });
  assert.ok(!result.ok);
  assert.equal(result.reason, 'truncated');
  assert.equal(result.firstBadSeq, 7);
  assert.equal((await verifyChain(entries, { anchor })).ok, true);

  // Everything from seq 5 on rewritten with fresh hashes: internally valid, but not the anchored chain.
  const rewritten = entries.slice(0, 4);
  for (let i = 5; i <= 10; i++)
    rewritten.push(
      buildAuditEntry(rewritten[rewritten.length - 1]!, {
        ts: entries[i - 1]!.ts,
        event_type: 'fact_write',
        principal: null,
        detail: { rewritten: i },
      }),
    );
  assert.equal((await verifyChain(rewritten)).ok, true);
  result = await verifyChain(rewritten, { anchor });
  assert.ok(!result.ok);
  assert.equal(result.reason, 'anchor_mismatch');
  assert.equal(result.firstBadSeq, 8);
});

test("start 'first-entry' continues from the first entry's prev_hash; a given start must be matched", async () => {
  const entries = chainOf(10);
  const tail = entries.slice(4);
  assert.equal((await verifyChain(tail)).ok, false);
  const result = await verifyChain(tail, { start: 'first-entry' });
  assert.deepEqual(result, {
    ok: true,
    count: 6,
    start: { seq: 4, hash: entries[3]!.hash },
    lastSeq: 10,
    lastHash: entries[9]!.hash,
  });
  // The tail's link to earlier entries is checked when the start is known.
  assert.equal((await verifyChain(tail, { start: { seq: 4, hash: entries[3]!.hash } })).ok, true);
  const wrong = await verifyChain(tail, { start: { seq: 4, hash: entries[2]!.hash } });
  assert.ok(!wrong.ok);
  assert.equal(wrong.reason, 'prev_hash_mismatch');
  assert.equal(wrong.firstBadSeq, 5);
  // A first entry of seq 1 must still link to genesis.
  const fakeGenesis = { ...entries[0]!, prev_hash: 'a'.repeat(64) };
  const bad = await verifyChain([{ ...fakeGenesis, hash: auditHash(fakeGenesis) }], { start: 'first-entry' });
  assert.ok(!bad.ok);
  assert.equal(bad.reason, 'prev_hash_mismatch');
  assert.equal(bad.firstBadSeq, 1);
  // An anchor before a mid-chain start cannot be checked: refused, not passed.
  const early = await verifyChain(tail, { start: 'first-entry', anchor: { seq: 2, hash: entries[1]!.hash } });
  assert.ok(!early.ok);
  assert.equal(early.reason, 'anchor_mismatch');
});

test('parseChainPoint reads SEQ:HASH and refuses anything else', () => {
  const hash = 'ab'.repeat(32);
  assert.deepEqual(parseChainPoint(`12:${hash}`), { seq: 12, hash });
  for (const bad of [
    '12',
    `x:${hash}`,
    `01:${hash}`,
    `12:${hash.toUpperCase()}`,
    `12:${hash}0`,
    `-1:${hash}`,
  ])
    assert.throws(() => parseChainPoint(bad), /an anchor is SEQ:HASH/);
});
