// Revocation on the gRPC adapter, on open streams: a CRL reload of the server's credentials that revokes
// bob ends bob's open server stream within 1 s (its connection closed, cert_revoked counted with the serial)
// while alice's stream goes on; and a CRL reload of the client's credentials that revokes the server closes
// the client's connection, the next call failing with cert_revoked before a byte reaches the server.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { type ClientReadableStream, type ServiceError, status } from '@grpc/grpc-js';
import { uriPrefix } from '../../../src/tls/authorize.ts';
import { manualTimers, serialOf, writeCrl } from '../../support/crl.ts';
import { call, type Tick } from '../../support/grpc-echo.ts';
import { grpcClient, startGrpcServer } from '../../support/grpc-peers.ts';
import { counterValue } from '../../support/metrics.ts';
import { createTestCa, DAY_MS, type TestCa, tempDir, testUri, writeMaterial } from '../../support/pki.ts';
import { until } from '../../support/reload.ts';

const anyTestPeer = uriPrefix('spiffe://test.example/');

async function openStream(
  t: TestContext,
  port: number,
  dir: string,
  ca: TestCa,
  name: string,
  leaf?: Awaited<ReturnType<TestCa['issue']>>,
) {
  const client = await grpcClient(
    port,
    await writeMaterial(dir, name, leaf ?? (await ca.issue(name)), ca.certPem),
    testUri('server'),
  );
  t.after(() => client.close());
  const stream = client.client.Tick({}) as ClientReadableStream<Tick>;
  const ticks: Tick[] = [];
  stream.on('data', (tick: Tick) => ticks.push(tick));
  const first = new Promise<void>((resolve) => stream.once('data', () => resolve()));
  const ended = new Promise<{ error: ServiceError; at: number }>((resolve) =>
    stream.on('error', (error: ServiceError) => resolve({ error, at: Date.now() })),
  );
  t.after(() => stream.cancel());
  return { stream, ticks, first, ended };
}

test("a CRL reload revoking bob ends bob's stream within 1 s; alice's stream goes on", async (t) => {
  const ca = await createTestCa('Revocation CA');
  const dir = await tempDir(t);
  const crlPath = join(dir, 'ca.crl');
  await writeCrl(crlPath, ca, []);
  const server = await startGrpcServer(
    { ...(await writeMaterial(dir, 'server', await ca.issue('server'), ca.certPem)), crlPath },
    anyTestPeer,
  );
  t.after(() => server.close());
  const bobCert = await ca.issue('bob');
  const alice = await openStream(t, server.port, dir, ca, 'alice');
  const bob = await openStream(t, server.port, dir, ca, 'bob', bobCert);
  server.echo.push();
  await Promise.all([alice.first, bob.first]);

  await writeCrl(crlPath, ca, [bobCert]);
  const reloadedAt = Date.now();
  assert.equal((await server.credentials.reload('manual')).result, 'success');
  const { error, at } = await bob.ended;
  assert.equal(error.code, status.UNAVAILABLE);
  assert.ok(at - reloadedAt < 1000, `ended ${at - reloadedAt} ms after the reload`);
  assert.equal(server.rejections.at(-1)?.reason, 'cert_revoked');
  assert.equal(server.rejections.at(-1)?.serial, serialOf(bobCert));
  assert.equal(
    await counterValue(server.registry, 'tessera_tls_handshake_rejections_total', {
      side: 'server',
      reason: 'cert_revoked',
    }),
    1,
  );

  const before = alice.ticks.length;
  server.echo.push();
  await new Promise<void>((resolve) => alice.stream.once('data', () => resolve()));
  assert.equal(alice.ticks.length, before + 1, "alice's stream still delivers");
});

test("the peer's notAfter reached on the gRPC server closes its stream (injected clock and timers)", async (t) => {
  let now = new Date();
  const timers = manualTimers();
  const ca = await createTestCa('Revocation CA');
  const dir = await tempDir(t);
  const server = await startGrpcServer(
    await writeMaterial(dir, 'server', await ca.issue('server'), ca.certPem),
    anyTestPeer,
    {},
    { clock: () => now, timers: timers.timers },
  );
  t.after(() => server.close());
  const alice = await openStream(
    t,
    server.port,
    dir,
    ca,
    'alice',
    await ca.issue('alice', { notAfter: new Date(Date.now() + DAY_MS) }),
  );
  server.echo.push();
  await alice.first;
  now = new Date(Date.now() + 2 * DAY_MS);
  timers.fireAll();
  const { error } = await alice.ended;
  assert.equal(error.code, status.UNAVAILABLE);
  assert.equal(server.rejections.at(-1)?.reason, 'cert_expired');
});

test('the gRPC client closes its connection to a server its CRL now revokes; the next call is refused', async (t) => {
  const ca = await createTestCa('Revocation CA');
  const dir = await tempDir(t);
  const serverCert = await ca.issue('server');
  const server = await startGrpcServer(
    await writeMaterial(dir, 'server', serverCert, ca.certPem),
    anyTestPeer,
  );
  t.after(() => server.close());
  const crlPath = join(dir, 'client.crl');
  await writeCrl(crlPath, ca, []);
  const client = await grpcClient(
    server.port,
    { ...(await writeMaterial(dir, 'client', await ca.issue('client'), ca.certPem)), crlPath },
    testUri('server'),
  );
  t.after(() => client.close());
  await call(client.client, 'WhoAmI');
  assert.equal(server.server.peerGate.connections.size, 1);

  await writeCrl(crlPath, ca, [serverCert]);
  const reloadedAt = Date.now();
  assert.equal((await client.credentials.reload('manual')).result, 'success');
  await until('the connection to close', () => server.server.peerGate.connections.size === 0);
  assert.ok(Date.now() - reloadedAt < 1000);
  assert.equal(client.rejections.at(-1)?.reason, 'cert_revoked');
  const calls = server.echo.calls;
  await assert.rejects(call(client.client, 'WhoAmI'), (error: ServiceError) => {
    assert.match(error.details, /cert_revoked/);
    return true;
  });
  assert.equal(server.echo.calls, calls, 'no call reached the server');
});
