// Crash safety of replication: the puller is killed with SIGKILL while it replicates 100k facts; after a
// restart both sides hold exactly 100k facts and no fact twice, because each page and its cursor are
// committed in one transaction.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { addAndApprove, startNodeProcess } from '../support/node-process.ts';
import { createTestCa, tempDir, testUri } from '../support/pki.ts';
import { until } from '../support/reload.ts';
import { countOnDisk, seedFacts } from '../support/seed.ts';

const TOTAL = 100_000;

test('kill -9 the puller mid-replication of 100k facts; after restart exactly 100k on both sides, no duplicates', {
  timeout: 300_000,
}, async (t) => {
  const ca = await createTestCa();
  const root = await tempDir(t);
  await seedFacts(join(root, 'a'), testUri('a'), TOTAL);
  // Replication starts from approval (a wake) and restarts from B's own start-up pull. The interval is short
  // enough that a transient failure on a loaded machine (its backoff starts at one interval) or a cycle
  // capped by its time limit only delays the catch-up, and the kill still lands mid-way (B is polled every
  // few milliseconds).
  const env = { TESSERA_FEDERATION_PULL_INTERVAL_S: '5' };
  const a = await startNodeProcess({ name: 'a', ca, root, env });
  let b = await startNodeProcess({ name: 'b', ca, root, env });
  t.after(async () => {
    await Promise.all([a.stop(), b.stop()]);
  });
  const total = async (node: typeof a) =>
    (await node.api<{ total: number }>('GET', '/v1/facts?limit=1')).body.total;
  assert.equal(await total(a), TOTAL);

  await addAndApprove(a, b);
  await addAndApprove(b, a); // B approving A starts B's pull from A.
  const partial = await until(
    'B to be part-way through',
    async () => {
      const n = await total(b);
      return n > 0 && n < TOTAL ? n : undefined;
    },
    { timeoutMs: 120_000, intervalMs: 5 },
  );
  await b.kill9();
  const afterKill = countOnDisk(b.dataDir);
  assert.ok(
    afterKill.rows >= partial && afterKill.rows < TOTAL,
    `killed mid-way (${afterKill.rows} of ${TOTAL})`,
  );
  assert.equal(afterKill.rows % 500, 0, 'only whole pages were committed');

  b = await startNodeProcess({ name: 'b', ca, root, env, reuse: { apiKey: b.apiKey, tls: b.tls } });
  await until('B to hold every fact', async () => (await total(b)) === TOTAL, {
    timeoutMs: 180_000,
    intervalMs: 100,
  });
  await Promise.all([a.stop(), b.stop()]);
  for (const [name, dir] of [
    ['a', a.dataDir],
    ['b', b.dataDir],
  ] as const) {
    const counts = countOnDisk(dir);
    assert.deepEqual(counts, { rows: TOTAL, distinctCids: TOTAL, distinctIds: TOTAL }, `node ${name}`);
  }
});
