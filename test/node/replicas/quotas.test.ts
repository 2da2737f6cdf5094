// Quotas are shared by the replicas of a node on PostgreSQL: the buckets live in the database, so the
// N+1th write of a principal is refused (429) on whichever replica it reaches, and a token comes back
// after the time the node's (injected) clock says.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { testDatabase } from '../../store/postgres-fixtures.ts';
import { fact } from '../../support/node-process.ts';
import { type Replicas, startReplicas } from './support.ts';

const database = testDatabase();
const WRITES_PER_HOUR = 6;
let nowMs = Date.now();
let replicas: Replicas;

before(async () => {
  replicas = await startReplicas(await database(), {
    env: { TESSERA_RATE_LIMIT_WRITE_PER_HOUR: String(WRITES_PER_HOUR) },
    clock: () => new Date(nowMs),
  });
});
after(() => replicas?.close());

test('the N+1th write of a principal gets 429 on whichever replica, and the quota refills by the node clock', async () => {
  const { a, b } = replicas;
  for (let i = 0; i < WRITES_PER_HOUR; i++) {
    const written = await (i % 2 ? a : b).api('POST', '/v1/facts', fact(`test:quota/${i}`));
    assert.equal(
      written.status,
      201,
      `write ${i + 1} of ${WRITES_PER_HOUR}: ${JSON.stringify(written.body)}`,
    );
  }
  // The shared buckets say who is near the ceiling, from either replica.
  const low = await a.node.store.buckets?.lowest(nowMs, 0.2, 10);
  assert.deepEqual(low, [{ key: 'fact_write static-admin', remaining: 0, capacity: 6, perHour: 6 }]);
  for (const replica of [a, b]) {
    const refused = await replica.api<{ error: string; retry_after: number }>(
      'POST',
      '/v1/facts',
      fact(`test:quota/over-${replica.name}`),
    );
    assert.equal(refused.status, 429, `refused on ${replica.name}: ${JSON.stringify(refused.body)}`);
    assert.equal(refused.body.error, 'quota_exceeded');
    assert.equal(refused.body.retry_after, 600, 'one token every 10 minutes');
  }
  // Ten minutes later (by the node's clock): exactly one more write, on either replica.
  nowMs += 600_000;
  const again = await b.api('POST', '/v1/facts', fact('test:quota/later'));
  assert.equal(again.status, 201, JSON.stringify(again.body));
  const over = await a.api('POST', '/v1/facts', fact('test:quota/later-2'));
  assert.equal(over.status, 429);
});

test('the burst holds across replicas too: at the default burst (100) the 101st read is refused, whichever replica', async () => {
  const { a, b } = replicas;
  // Reads: 5000 an hour by default, but at most TESSERA_RATE_LIMIT_BURST (100) at once.
  for (let i = 0; i < 100; i++) {
    const read = await (i % 2 ? a : b).api('GET', '/v1/facts?limit=1');
    assert.equal(read.status, 200, `read ${i + 1}: ${JSON.stringify(read.body)}`);
  }
  const refused = await a.api<{ error: string; dimension: string }>('GET', '/v1/facts?limit=1');
  assert.equal(refused.status, 429, JSON.stringify(refused.body));
  assert.equal(refused.body.dimension, 'fact_read');
});
