// Revoking a peer ends its gRPC stream at once, with real node processes: the sender ends the stream
// (counted as peer_revoked), closes the peer's connections, and a fact written afterwards never reaches it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GRPC_ENV, scrape } from '../../../support/grpc-federation.ts';
import { addAndApprove, fact, type NodeProcess, startNodeProcess } from '../../../support/node-process.ts';
import { createTestCa, tempDir } from '../../../support/pki.ts';
import { until } from '../../../support/reload.ts';

const total = async (node: NodeProcess) =>
  (await node.api<{ total: number }>('GET', '/v1/facts?limit=1')).body.total;

test('revoking a subscribed peer ends its stream (peer_revoked) and nothing more reaches it', {
  timeout: 120_000,
}, async (t) => {
  const ca = await createTestCa();
  const root = await tempDir(t);
  const [a, b] = await Promise.all([
    startNodeProcess({ name: 'a', ca, root, env: GRPC_ENV }),
    startNodeProcess({ name: 'b', ca, root, env: GRPC_ENV }),
  ]);
  t.after(async () => {
    await Promise.all([a.kill9(), b.kill9()]);
  });
  const bOnA = await addAndApprove(a, b);
  await addAndApprove(b, a);
  assert.equal((await a.api('POST', '/v1/facts', fact('test:before'))).status, 201);
  await until('the first fact to reach B', async () => (await total(b)) === 1, { timeoutMs: 60_000 });
  assert.equal(await scrape(a, 'tessera_federation_grpc_streams', { role: 'sender' }), 1);

  assert.equal((await a.api('POST', `/v1/admin/peers/${bOnA.id}/revoke`, {})).status, 200);
  await until(
    "A to end the revoked peer's stream",
    async () =>
      (await scrape(a, 'tessera_federation_grpc_stream_ends_total', {
        role: 'sender',
        reason: 'peer_revoked',
      })) === 1,
  );
  assert.equal(await scrape(a, 'tessera_federation_grpc_streams', { role: 'sender' }), 0);
  assert.equal((await a.api('POST', '/v1/facts', fact('test:after'))).status, 201);
  // B tries again and is refused at the handshake (revoked: on A's deny-list).
  await until(
    'A to refuse B at the handshake',
    async () => (await scrape(a, 'tessera_tls_handshake_rejections_total', { side: 'server' })) > 0,
    { timeoutMs: 60_000 },
  );
  assert.equal(await total(b), 1, 'the fact written after the revocation did not reach B');
});
