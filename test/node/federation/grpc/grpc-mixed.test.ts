// gRPC and HTTPS in one federation, between real `tessera serve` processes: two nodes with a gRPC listener
// replicate between themselves over streams, and with an HTTPS-only node over HTTPS pages (it advertises no
// gRPC endpoint, so that is not a fallback); every node ends up with every fact. And a peer whose advertised
// gRPC endpoint cannot be reached is replicated from over HTTPS, the fallback counted with its reason.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { factRows, GRPC_ENV, scrape } from '../../../support/grpc-federation.ts';
import { addAndApprove, fact, type NodeProcess, startNodeProcess } from '../../../support/node-process.ts';
import { createTestCa, tempDir } from '../../../support/pki.ts';
import { until } from '../../../support/reload.ts';

const total = async (node: NodeProcess) =>
  (await node.api<{ total: number }>('GET', '/v1/facts?limit=1')).body.total;

/** Pull once an hour; push wakes on (the HTTPS-only peer learns of changes by wakes). */
const QUIET = { TESSERA_FEDERATION_PULL_INTERVAL_S: '3600', TESSERA_FEDERATION_CONNECT_TIMEOUT_MS: '3000' };

test('an HTTPS-only node and two gRPC nodes in one federation converge; gRPC is used only between the gRPC pair', {
  timeout: 300_000,
}, async (t) => {
  const ca = await createTestCa();
  const root = await tempDir(t);
  const grpcEnv = { ...GRPC_ENV, ...QUIET, TESSERA_FEDERATION_PUSH_ENABLED: 'true' };
  const [a, b, c] = await Promise.all([
    startNodeProcess({ name: 'a', ca, root, env: grpcEnv }),
    startNodeProcess({ name: 'b', ca, root, env: grpcEnv }),
    startNodeProcess({ name: 'c', ca, root, env: QUIET }),
  ]);
  t.after(async () => {
    await Promise.all([a.kill9(), b.kill9(), c.kill9()]);
  });
  assert.equal(c.grpcEndpoint, undefined, 'C runs no gRPC listener');
  const nodes = [a, b, c];
  for (const x of nodes) for (const y of nodes) if (x !== y) await addAndApprove(x, y);
  for (const node of nodes)
    for (let i = 0; i < 3; i++)
      assert.equal((await node.api('POST', '/v1/facts', fact(`test:${node.name}/${i}`))).status, 201);
  for (const node of nodes)
    await until(`${node.name} to hold all 9 facts`, async () => (await total(node)) === 9, {
      timeoutMs: 60_000,
    });

  assert.equal(
    await scrape(a, 'tessera_federation_grpc_streams', { role: 'receiver' }),
    1,
    'A subscribes to B only',
  );
  assert.equal(
    await scrape(b, 'tessera_federation_grpc_streams', { role: 'receiver' }),
    1,
    'B subscribes to A only',
  );
  assert.equal(await scrape(a, 'tessera_federation_grpc_streams', { role: 'sender' }), 1);
  assert.equal(await scrape(c, 'tessera_federation_grpc_streams'), 0, 'C has no streams');
  for (const node of nodes)
    assert.equal(
      await scrape(node, 'tessera_federation_grpc_fallbacks_total'),
      0,
      `${node.name} never fell back`,
    );
  // C reached A and B over HTTPS.
  assert.ok(
    (await scrape(c, 'tessera_federation_pulls_total', { peer: a.entityUri, result: 'success' })) >= 1,
  );

  await Promise.all(nodes.map((node) => node.stop()));
  const [rowsA, rowsB, rowsC] = nodes.map((node) => factRows(node.dataDir));
  assert.equal(rowsA?.length, 9);
  assert.deepEqual(rowsB, rowsA);
  assert.deepEqual(rowsC, rowsA);
});

test('a peer whose advertised gRPC endpoint is unreachable is replicated from over HTTPS (fallback counted)', {
  timeout: 300_000,
}, async (t) => {
  const ca = await createTestCa();
  const root = await tempDir(t);
  const env = { ...GRPC_ENV, ...QUIET, TESSERA_FEDERATION_PUSH_ENABLED: 'true' };
  // B's listener runs, but its manifest sends peers to a port nobody listens on.
  const [a, b] = await Promise.all([
    startNodeProcess({ name: 'a', ca, root, env }),
    startNodeProcess({
      name: 'b',
      ca,
      root,
      env: { ...env, TESSERA_FEDERATION_GRPC_ADVERTISE: '127.0.0.1:1' },
    }),
  ]);
  t.after(async () => {
    await Promise.all([a.kill9(), b.kill9()]);
  });
  await addAndApprove(b, a);
  await addAndApprove(a, b);
  for (let i = 0; i < 3; i++)
    assert.equal((await b.api('POST', '/v1/facts', fact(`test:b/${i}`))).status, 201);
  await until("A to hold B's facts", async () => (await total(a)) === 3, { timeoutMs: 60_000 });
  assert.ok(
    (await scrape(a, 'tessera_federation_grpc_fallbacks_total', {
      peer: b.entityUri,
      reason: 'grpc_unavailable:connect_timeout',
    })) >= 1,
    'the fallback is counted with its reason',
  );
  assert.equal(await scrape(a, 'tessera_federation_grpc_streams', { role: 'receiver' }), 0);
});
