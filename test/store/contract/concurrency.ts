// Concurrent writers: many calls in flight at once (Promise.all), as the node's request handlers and
// pullers make them. Nothing is lost, nothing is stored twice, every uniqueness rule picks exactly one
// winner, and the audit chain stays gapless while transactions append to it too.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { FactRecord } from '../../../src/store/ports/facts.ts';
import { fact, link, peer } from './records.ts';
import type { OpenStore } from './types.ts';

const N = 60;

/** Settles all and returns how many were fulfilled, and the rejection reasons. */
async function race<T>(calls: Promise<T>[]): Promise<{ values: T[]; errors: unknown[] }> {
  const results = await Promise.allSettled(calls);
  return {
    values: results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : [])),
    errors: results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : [])),
  };
}

export function concurrencyContract(open: OpenStore): void {
  test('parallel inserts, each fact offered three times: every fact stored once, one insert reports it new', async () => {
    const t = await open();
    try {
      const records = Array.from({ length: N }, () => fact());
      // The same record twice, and the same content under another id: all racing each other.
      const offers: FactRecord[] = records.flatMap((r) => [r, r, { ...r, id: `${r.id}-again` }]);
      const results = await Promise.all(offers.map((r) => t.store.insertFact(r)));
      const fresh = results.filter((r) => r.inserted).map((r) => r.record.cid);
      assert.equal(fresh.length, N, 'one insert per CID reports inserted');
      assert.deepEqual(new Set(fresh), new Set(records.map((r) => r.cid)));
      for (const result of results) {
        const original = records.find((r) => r.cid === result.record.cid)!;
        assert.equal(result.record.cid, original.cid);
      }
      assert.equal(await t.store.countFacts(), N);
      const feed = await t.store.federationPage({ limit: 10 * N, scopes: ['company'] });
      assert.equal(feed.facts.length, N);
      assert.equal(new Set(feed.facts.map((f) => f.cid)).size, N, 'no CID twice in the feed');
      assert.equal(feed.more, false);
    } finally {
      await t.cleanup();
    }
  });

  test('parallel transactions: the committed ones all land, the failing ones leave nothing', async () => {
    const t = await open();
    try {
      const batches = Array.from({ length: 12 }, (_, i) => ({
        fail: i % 4 === 3,
        records: Array.from({ length: 5 }, () => fact()),
      }));
      const { values, errors } = await race(
        batches.map((batch, i) =>
          t.store.tx(async (tx) => {
            for (const record of batch.records) await tx.insertFact(record);
            await tx.setMeta(`batch-${i}`, 'done');
            if (batch.fail) throw new Error(`batch ${i} fails`);
            return i;
          }),
        ),
      );
      assert.equal(values.length, 9);
      assert.equal(errors.length, 3);
      for (const [i, batch] of batches.entries()) {
        for (const record of batch.records)
          assert.equal(
            (await t.store.getFact(record.id)) !== null,
            !batch.fail,
            `${record.id} of batch ${i}`,
          );
        assert.equal(await t.store.getMeta(`batch-${i}`), batch.fail ? null : 'done');
      }
      assert.equal(await t.store.countFacts(), 9 * 5);
    } finally {
      await t.cleanup();
    }
  });

  test('racing duplicates: one api key per id, one peer per entity URI, one replay per jti, one revocation per id', async () => {
    const t = await open();
    try {
      const key = (n: number) => ({
        id: 'kdup',
        entityUri: `spiffe://example.org/client/${n}`,
        permissions: ['read' as const],
        secretHash: `scrypt$16384$8$1$c2FsdA$aGFzaA${n}`,
        description: null,
        createdAt: '2025-11-23T10:00:00.000Z',
        expiresAt: null,
        revokedAt: null,
      });
      const keys = await race(Array.from({ length: 10 }, (_, n) => t.store.addApiKey(key(n))));
      assert.equal(keys.values.length, 1);
      for (const error of keys.errors) assert.equal((error as { code?: string }).code, 'api_key_exists');
      assert.equal((await t.store.listApiKeys()).length, 1);

      const uri = 'spiffe://example.org/node/contested';
      const peers = await race(Array.from({ length: 10 }, () => t.store.addPeer(peer({ entityUri: uri }))));
      assert.equal(peers.values.length, 1);
      for (const error of peers.errors) assert.equal((error as { code?: string }).code, 'peer_exists');
      assert.equal((await t.store.listPeers()).length, 1);

      const jtis = await Promise.all(
        Array.from({ length: 10 }, () => t.store.rememberJti('jti-1', 2_000_000_000)),
      );
      assert.equal(jtis.filter(Boolean).length, 1, 'exactly one caller sees the token first');

      const revocation = (n: number) => ({
        capability_id: 'cap-1',
        issuer: 'spiffe://example.org/node/a',
        expires_at: '2030-03-01T00:00:00.000Z',
        revoked_at: `2030-01-01T00:00:${String(n).padStart(2, '0')}.000Z`,
        reason: `reason ${n}`,
      });
      const added = await Promise.all(
        Array.from({ length: 10 }, (_, n) => t.store.addRevocation(revocation(n))),
      );
      assert.equal(added.filter(Boolean).length, 1);
      const feed = await t.store.revocationPage({ limit: 100 });
      assert.equal(feed.revocations.length, 1);
      const winner = added.indexOf(true);
      assert.deepEqual(feed.revocations[0], revocation(winner), 'the stored record is the winner’s');
    } finally {
      await t.cleanup();
    }
  });

  test('audit appends from plain calls and from transactions, all in flight: a gapless chain, each entry once', async () => {
    const t = await open();
    try {
      const calls: Promise<unknown>[] = [];
      for (let i = 0; i < N; i++) {
        if (i % 3 === 0)
          calls.push(
            t.store.tx(async (tx) => {
              await tx.insertFact(fact());
              await tx.appendAudit(link(`tx-${i}`));
            }),
          );
        else calls.push(t.store.appendAudit(link(`plain-${i}`)));
      }
      await Promise.all(calls);
      const entries = await t.store.auditRange(0, 10 * N);
      assert.equal(entries.length, N);
      entries.forEach((entry, i) => {
        assert.equal(entry.seq, i + 1);
        assert.equal(entry.prev_hash, i === 0 ? '0'.repeat(64) : entries[i - 1]!.hash, `link ${i + 1}`);
      });
      assert.equal(new Set(entries.map((e) => e.event_type)).size, N, 'every append once');
    } finally {
      await t.cleanup();
    }
  });
}
