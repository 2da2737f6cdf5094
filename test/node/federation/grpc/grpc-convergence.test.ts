// Federation over gRPC between real `tessera serve` processes: replication is a server stream (catch-up
// pages, then facts pushed as they commit: these nodes pull once an hour and send no wakes, so what arrives
// came over the stream), resumed from the receiver's stored cursor after kill -9 of either side, and the
// two fact tables end up exactly equal (same ids, CIDs, HLCs and origins; no fact twice).
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { factRows, GRPC_ENV, samePorts, scrape } from '../../../support/grpc-federation.ts';
import { addAndApprove, fact, type NodeProcess, startNodeProcess } from '../../../support/node-process.ts';
import { createTestCa, tempDir, testUri } from '../../../support/pki.ts';
import { until } from '../../../support/reload.ts';
import { countOnDisk, seedFacts } from '../../../support/seed.ts';

const TOTAL = 40_000;

const total = async (node: NodeProcess) =>
  (await node.api<{ total: number }>('GET', '/v1/facts?limit=1')).body.total;

test('gRPC stream: catch-up, kill -9 of the receiver and of the sender mid-stream, live facts; exact convergence', {
  timeout: 600_000,
}, async (t) => {
  const ca = await createTestCa();
  const root = await tempDir(t);
  await seedFacts(join(root, 'a'), testUri('a'), TOTAL);
  let a = await startNodeProcess({ name: 'a', ca, root, env: GRPC_ENV });
  let b = await startNodeProcess({ name: 'b', ca, root, env: GRPC_ENV });
  t.after(async () => {
    await Promise.all([a.kill9(), b.kill9()]);
  });
  assert.match(a.grpcEndpoint ?? '', /^127\.0\.0\.1:\d+$/, 'A advertises its gRPC endpoint');
  const manifest = await a.api<{ endpoints?: { grpc?: string; https?: string } }>(
    'GET',
    '/.well-known/tessera-manifest.json',
  );
  assert.deepEqual(
    manifest.body.endpoints,
    { https: a.federationUrl, grpc: a.grpcEndpoint },
    'signed manifest',
  );

  await addAndApprove(a, b);
  await addAndApprove(b, a); // B approving A starts B's subscription to A.

  // 1. kill -9 the receiver part-way through the catch-up.
  const partial = await until(
    'B to be part-way through',
    async () => {
      const n = await total(b);
      return n > 0 && n < TOTAL ? n : undefined;
    },
    { timeoutMs: 120_000, intervalMs: 5 },
  );
  assert.equal(await scrape(a, 'tessera_federation_grpc_streams', { role: 'sender' }), 1, 'A streams to B');
  await b.kill9();
  const afterKill = countOnDisk(b.dataDir);
  assert.ok(afterKill.rows >= partial && afterKill.rows < TOTAL, `B killed mid-way (${afterKill.rows})`);
  assert.equal(afterKill.rows % 500, 0, 'only whole pages were committed');

  // 2. B resumes from its stored cursor; kill -9 the sender while B is still catching up.
  b = await startNodeProcess({
    name: 'b',
    ca,
    root,
    env: { ...GRPC_ENV, ...samePorts(b) },
    reuse: { apiKey: b.apiKey, tls: b.tls },
  });
  await until(
    'B to resume past where it was killed',
    async () => {
      const n = await total(b);
      return n > afterKill.rows ? n : undefined;
    },
    { timeoutMs: 120_000, intervalMs: 5 },
  );
  await a.kill9();
  const atSenderKill = countOnDisk(b.dataDir).rows;
  a = await startNodeProcess({
    name: 'a',
    ca,
    root,
    env: { ...GRPC_ENV, ...samePorts(a) },
    reuse: { apiKey: a.apiKey, tls: a.tls },
  });
  await until('B to hold every fact', async () => (await total(b)) === TOTAL, {
    timeoutMs: 120_000,
    intervalMs: 100,
  });
  t.diagnostic(`B killed at ${afterKill.rows}, A killed with B at ${atSenderKill} of ${TOTAL}`);

  // 3. Live: facts written on A now reach B over the stream (no pulls for an hour, no wakes).
  await until(
    'B to be subscribed to A again',
    async () => (await scrape(b, 'tessera_federation_grpc_streams', { role: 'receiver' })) === 1,
    { timeoutMs: 60_000 },
  );
  for (let i = 0; i < 5; i++)
    assert.equal((await a.api('POST', '/v1/facts', fact(`test:live/${i}`))).status, 201);
  await until('the live facts to reach B', async () => (await total(b)) === TOTAL + 5, { timeoutMs: 60_000 });
  assert.equal(await scrape(b, 'tessera_federation_grpc_fallbacks_total'), 0, 'B never fell back to HTTPS');
  assert.equal(await scrape(a, 'tessera_federation_grpc_streams', { role: 'sender' }), 1);

  await Promise.all([a.stop(), b.stop()]);
  const rowsA = factRows(a.dataDir);
  const rowsB = factRows(b.dataDir);
  assert.equal(rowsA.length, TOTAL + 5);
  assert.deepEqual(rowsB, rowsA, 'both fact tables hold exactly the same facts');
  for (const [name, dir] of [
    ['a', a.dataDir],
    ['b', b.dataDir],
  ] as const)
    assert.deepEqual(
      countOnDisk(dir),
      { rows: TOTAL + 5, distinctCids: TOTAL + 5, distinctIds: TOTAL + 5 },
      `node ${name}: no fact twice`,
    );
});
