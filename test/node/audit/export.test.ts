// Export to JSONL from a real SQLite file: the file is written atomically with mode 0600, one entry per line
// in wire names, and verifies offline; a mid-chain export (since) verifies from its first prev_hash;
// editing, deleting or reordering lines of the file names the first bad seq; a broken log is not exported.
import assert from 'node:assert/strict';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { type VerifyOptions, verifyChain } from '../../../src/node/features/audit/chain.ts';
import { exportAuditLog } from '../../../src/node/features/audit/export.ts';
import { jsonlAuditEntries } from '../../../src/node/features/audit/sources.ts';
import type { AuditEntry } from '../../../src/store/ports/audit.ts';
import { AUDIT_T0, type AuditDb, auditDb, MINUTE, seedAudit } from '../../support/audit-log.ts';

const N = 20;
const dbs: AuditDb[] = [];

after(async () => {
  for (const db of dbs) await db.cleanup();
});

async function seeded(): Promise<{ db: AuditDb; entries: AuditEntry[]; out: string }> {
  const db = await auditDb('tessera-audit-export-');
  dbs.push(db);
  return { db, entries: await seedAudit(db.log, N), out: join(db.dir, 'audit.jsonl') };
}

const verifyFile = (file: string, options: VerifyOptions = { start: 'first-entry' }) =>
  verifyChain(jsonlAuditEntries(file), options);

async function lines(file: string): Promise<string[]> {
  return (await readFile(file, 'utf8')).split('\n').filter(Boolean);
}

async function rewrite(file: string, edit: (lines: string[]) => string[]): Promise<void> {
  await writeFile(file, `${edit(await lines(file)).join('\n')}\n`);
}

test('a full export: 0600, one entry per line in wire names, nothing left behind, verifies offline', async () => {
  const { db, entries, out } = await seeded();
  const result = await exportAuditLog({ store: db.store, out });
  assert.equal(result.written, true);
  assert.equal(result.count, N);
  assert.equal(result.firstSeq, 1);
  assert.equal(result.lastSeq, N);
  assert.equal(result.verify.ok, true);
  assert.equal((await stat(out)).mode & 0o777, 0o600);
  const text = await lines(out);
  assert.equal(text.length, N);
  assert.deepEqual(Object.keys(JSON.parse(text[0]!)), [
    'seq',
    'ts',
    'event_type',
    'principal',
    'detail',
    'prev_hash',
    'hash',
  ]);
  assert.deepEqual(
    text.map((line) => JSON.parse(line)),
    entries,
  );
  assert.deepEqual(
    (await readdir(db.dir)).filter((f) => f.endsWith('.tmp')),
    [],
  );
  assert.deepEqual(await verifyFile(out), {
    ok: true,
    count: N,
    start: { seq: 0, hash: '0'.repeat(64) },
    lastSeq: N,
    lastHash: entries[N - 1]!.hash,
  });
  // A second export replaces the file.
  await db.log.record('tls_reload', null, { result: 'success' });
  assert.equal((await exportAuditLog({ store: db.store, out })).count, N + 1);
  assert.equal((await lines(out)).length, N + 1);
});

test('since starts the export at the first entry at or after it; the file verifies from its first prev_hash', async () => {
  const { db, entries, out } = await seeded();
  const since = new Date(AUDIT_T0 + 8 * MINUTE).toISOString();
  const result = await exportAuditLog({ store: db.store, out, since });
  assert.equal(result.firstSeq, 8);
  assert.equal(result.count, N - 7);
  assert.deepEqual(await verifyFile(out), {
    ok: true,
    count: N - 7,
    start: { seq: 7, hash: entries[6]!.hash },
    lastSeq: N,
    lastHash: entries[N - 1]!.hash,
  });
  // Without the mid-chain start it does not verify from genesis, as expected.
  const fromGenesis = await verifyFile(out, {});
  assert.ok(!fromGenesis.ok);
  assert.equal(fromGenesis.reason, 'seq_gap');
  // After every entry: an empty, valid file.
  const late = await exportAuditLog({ store: db.store, out, since: '2030-01-01T00:00:00Z' });
  assert.equal(late.count, 0);
  assert.equal((await readFile(out, 'utf8')).length, 0);
  assert.equal((await verifyFile(out)).ok, true);
  await assert.rejects(exportAuditLog({ store: db.store, out, since: 'yesterday' }), /RFC 3339/);
});

test('edited, deleted, reordered, repeated or unparsable lines: broken at the first bad seq', async () => {
  const { db, out } = await seeded();
  const cases: [string, (l: string[]) => string[], number, string][] = [
    [
      'edited detail',
      (l) => l.map((line, i) => (i === 9 ? line.replace('"entry 10"', '"entry ten"') : line)),
      10,
      'hash_mismatch',
    ],
    [
      'edited ts',
      (l) =>
        l.map((line, i) =>
          i === 3 ? line.replace(/"ts":"[^"]+"/, '"ts":"2020-01-01T00:00:00.000Z"') : line,
        ),
      4,
      'hash_mismatch',
    ],
    ['deleted line', (l) => l.filter((_, i) => i !== 12), 13, 'seq_gap'],
    [
      'two lines swapped',
      (l) => l.map((line, i) => (i === 4 ? l[6]! : i === 6 ? l[4]! : line)),
      5,
      'seq_gap',
    ],
    ['repeated line', (l) => [...l.slice(0, 8), l[7]!, ...l.slice(8)], 8, 'seq_order'],
    ['garbage line', (l) => l.map((line, i) => (i === 15 ? '{"seq": 16, ' : line)), 16, 'malformed'],
  ];
  for (const [name, edit, seq, reason] of cases) {
    await exportAuditLog({ store: db.store, out });
    await rewrite(out, edit);
    const result = await verifyFile(out);
    assert.ok(!result.ok, name);
    assert.equal(result.firstBadSeq, seq, `${name}: ${result.detail}`);
    assert.equal(result.reason, reason, `${name}: ${result.detail}`);
  }
  await exportAuditLog({ store: db.store, out });
  await rewrite(out, (l) => l.map((line, i) => (i === 15 ? 'not json' : line)));
  const garbage = await verifyFile(out);
  assert.ok(!garbage.ok);
  assert.match(garbage.detail, /line 16 is not valid JSON/);
});

test('a broken log is not exported (no file, no temp file) unless forced', async () => {
  const { db, out } = await seeded();
  db.sql("UPDATE audit_log SET event_type = 'auth_failed' WHERE seq = 6");
  const refused = await exportAuditLog({ store: db.store, out });
  assert.equal(refused.written, false);
  assert.ok(!refused.verify.ok);
  assert.equal(refused.verify.firstBadSeq, 6);
  assert.deepEqual(
    (await readdir(db.dir)).filter((f) => f.includes('audit.jsonl')),
    [],
  );
  const forced = await exportAuditLog({ store: db.store, out, force: true });
  assert.equal(forced.written, true);
  assert.equal(forced.count, N);
  assert.ok(!forced.verify.ok);
  const offline = await verifyFile(out);
  assert.ok(!offline.ok);
  assert.equal(offline.firstBadSeq, 6);
  assert.equal(offline.reason, 'hash_mismatch');
});
