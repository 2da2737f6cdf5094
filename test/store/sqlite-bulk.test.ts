// Seeding speed: replication tests and benchmarks of other parts need 100k facts in a few seconds, through
// the public Store API (bulkInsertFacts = batches of `await tx.insertFact` in one tx each).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { factCid } from '../../src/node/features/facts/cid.ts';
import { bulkInsertFacts } from '../../src/store/bulk.ts';
import type { FactContent, FactRecord } from '../../src/store/ports/facts.ts';
import { SELF } from './contract/records.ts';
import { tempStore } from './fixtures.ts';

const COUNT = 100_000;

function records(count: number, from = 0): FactRecord[] {
  const out: FactRecord[] = [];
  for (let i = from; i < from + count; i++) {
    const content: FactContent = {
      entity: `bulk:item/${i}`,
      relation: 'bulk:seq',
      value: { type: 'number', v: i },
      source: 'bulk',
      confidence: 1,
      scope: i % 10 === 0 ? 'local' : 'company',
    };
    out.push({
      ...content,
      id: `bulk-${i}`,
      timestamp: '2025-11-23T10:00:00.000Z',
      valid_until: null,
      hlc: `${String(1_763_900_000_000 + i).padStart(15, '0')}-000000`,
      cid: factCid(content),
      attested: null,
      received_from: null,
      origin_node_id: SELF,
      origin_sig: null,
    });
  }
  return out;
}

test(`bulkInsertFacts stores ${COUNT} facts in a few seconds; a second run inserts none`, async (t) => {
  const store = await tempStore();
  try {
    const all = records(COUNT);
    const started = performance.now();
    assert.equal(await bulkInsertFacts(store.store, all), COUNT);
    const seconds = (performance.now() - started) / 1000;
    t.diagnostic(`inserted ${COUNT} facts in ${seconds.toFixed(2)} s (${Math.round(COUNT / seconds)}/s)`);
    assert.ok(seconds < 30, `took ${seconds.toFixed(1)} s`);
    assert.equal(await store.store.countFacts(), COUNT);
    assert.equal(await store.store.countFacts({ scope: 'local' }), COUNT / 10);

    assert.equal(
      await bulkInsertFacts(store.store, all.slice(0, 20_000)),
      0,
      'duplicates by CID are skipped',
    );
    assert.equal(await store.store.countFacts(), COUNT);

    // A replication-sized page (500 facts, one tx, one fsync) — what the puller does per feed page.
    const fresh = records(500, COUNT);
    const pageStarted = performance.now();
    await store.store.tx(async (tx) => {
      for (const record of fresh) await tx.insertFact(record);
    });
    t.diagnostic(`one 500-fact page committed in ${(performance.now() - pageStarted).toFixed(1)} ms`);
  } finally {
    await store.cleanup();
  }
});
