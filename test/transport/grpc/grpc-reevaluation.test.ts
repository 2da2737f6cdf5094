// Identity re-checked during a connection's life: a client certificate that expires while its connection
// stays open gets UNAUTHENTICATED (cert_expired, counted) on its next call (the server's injectable clock
// moves past notAfter); and PeerGate.revalidate() after a deny-list change ends a revoked peer's open
// server stream (its connection is closed) while another peer's stream keeps going.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type ClientReadableStream, type ServiceError, status } from '@grpc/grpc-js';
import { allOf, denyList, uriPrefix } from '../../../src/tls/authorize.ts';
import { call, type Tick } from '../../support/grpc-echo.ts';
import { grpcClient, startGrpcServer } from '../../support/grpc-peers.ts';
import { counterValue } from '../../support/metrics.ts';
import { createTestCa, DAY_MS, tempDir, testUri, writeMaterial } from '../../support/pki.ts';

test('a client certificate that expires on an open connection: next call UNAUTHENTICATED cert_expired', async (t) => {
  const ca = await createTestCa();
  const dir = await tempDir(t);
  let now = new Date();
  const server = await startGrpcServer(
    await writeMaterial(dir, 'server', await ca.issue('server'), ca.certPem),
    uriPrefix('spiffe://test.example/'),
    {},
    { clock: () => now },
  );
  t.after(() => server.close());
  const alice = await ca.issue('alice', { notAfter: new Date(Date.now() + DAY_MS) });
  const client = await grpcClient(
    server.port,
    await writeMaterial(dir, 'alice', alice, ca.certPem),
    testUri('server'),
  );
  t.after(() => client.close());
  assert.deepEqual((await call(client.client, 'WhoAmI')).uris, [testUri('alice')]);

  now = new Date(Date.now() + 2 * DAY_MS);
  const calls = server.echo.calls;
  await assert.rejects(call(client.client, 'WhoAmI'), (error: ServiceError) => {
    assert.equal(error.code, status.UNAUTHENTICATED);
    assert.match(error.details, /^cert_expired: peer certificate expired at /);
    return true;
  });
  assert.equal(server.echo.calls, calls, 'the handler never ran');
  assert.equal(server.callRejections.at(-1)?.reason, 'cert_expired');
  assert.equal(
    await counterValue(server.registry, 'tessera_tls_handshake_rejections_total', {
      side: 'server',
      reason: 'cert_expired',
    }),
    1,
  );
});

test("revalidate() after a deny-list change ends the revoked peer's stream; the other peer's stream goes on", async (t) => {
  const ca = await createTestCa();
  const dir = await tempDir(t);
  const revoked = new Set<string>();
  const server = await startGrpcServer(
    await writeMaterial(dir, 'server', await ca.issue('server'), ca.certPem),
    allOf(
      denyList(() => ({ uris: revoked })),
      uriPrefix('spiffe://test.example/'),
    ),
  );
  t.after(() => server.close());
  const open = async (name: string) => {
    const client = await grpcClient(
      server.port,
      await writeMaterial(dir, name, await ca.issue(name), ca.certPem),
      testUri('server'),
    );
    t.after(() => client.close());
    const stream = client.client.Tick({}) as ClientReadableStream<Tick>;
    const ticks: Tick[] = [];
    stream.on('data', (tick: Tick) => ticks.push(tick));
    const first = new Promise<void>((resolve) => stream.once('data', () => resolve()));
    const ended = new Promise<ServiceError>((resolve) => stream.on('error', resolve));
    t.after(() => stream.cancel());
    return { stream, ticks, first, ended };
  };
  const alice = await open('alice');
  const bob = await open('bob');
  await Promise.all([alice.first, bob.first]);

  revoked.add(testUri('bob'));
  assert.equal(server.server.peerGate.revalidate(), 1, "one connection closed: bob's");
  const error = await bob.ended;
  assert.equal(error.code, status.UNAVAILABLE);
  assert.equal(server.rejections.at(-1)?.reason, 'denied');
  assert.equal(server.rejections.at(-1)?.peer, testUri('bob'));

  const before = alice.ticks.length;
  server.echo.push();
  await new Promise<void>((resolve) => alice.stream.once('data', () => resolve()));
  assert.equal(alice.ticks.length, before + 1, "alice's stream still delivers");
});
