// The gRPC server's lifecycle: listen() rejects when the port is taken; close(graceMs) gives an open
// stream the grace period, then cancels it, closes every connection and stops the listener.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ClientReadableStream, ServiceError } from '@grpc/grpc-js';
import { status } from '@grpc/grpc-js';
import { uriPrefix } from '../../../src/tls/authorize.ts';
import { createMtlsGrpcServer } from '../../../src/transport/grpc/server.ts';
import { call, type Tick } from '../../support/grpc-echo.ts';
import { grpcClient, startGrpcServer } from '../../support/grpc-peers.ts';
import { createTestCa, tempDir, testUri, writeMaterial } from '../../support/pki.ts';
import { openStaticCredentials, rawTlsAttempt, silentLogger } from '../../support/tls-peers.ts';

test('listen() rejects with EADDRINUSE when the port is taken', async (t) => {
  const ca = await createTestCa();
  const dir = await tempDir(t);
  const paths = await writeMaterial(dir, 'server', await ca.issue('server'), ca.certPem);
  const first = await startGrpcServer(paths, uriPrefix('spiffe://test.example/'));
  t.after(() => first.close());
  const credentials = await openStaticCredentials(paths);
  t.after(() => credentials.close());
  const second = createMtlsGrpcServer({
    credentials,
    authorize: uriPrefix('spiffe://test.example/'),
    logger: silentLogger,
  });
  await assert.rejects(second.listen(first.port), { code: 'EADDRINUSE' });
  await second.close();
});

test('close(grace) ends an open stream after the grace period and closes connections and the listener', async (t) => {
  const ca = await createTestCa();
  const dir = await tempDir(t);
  const server = await startGrpcServer(
    await writeMaterial(dir, 'server', await ca.issue('server'), ca.certPem),
    uriPrefix('spiffe://test.example/'),
  );
  const client = await grpcClient(
    server.port,
    await writeMaterial(dir, 'alice', await ca.issue('alice'), ca.certPem),
    testUri('server'),
  );
  t.after(() => client.close());
  assert.deepEqual((await call(client.client, 'WhoAmI')).uris, [testUri('alice')]);
  const stream = client.client.Tick({}) as ClientReadableStream<Tick>;
  await new Promise<void>((resolve) => stream.once('data', () => resolve()));
  const ended = new Promise<ServiceError>((resolve) => stream.on('error', resolve));

  const started = Date.now();
  await server.server.close(300);
  const error = await ended;
  assert.ok(Date.now() - started >= 250, 'the stream was given the grace period');
  assert.equal(error.code, status.CANCELLED, 'cancelled by the server at the deadline');
  assert.equal(server.server.peerGate.connections.size, 0);
  const outcome = await rawTlsAttempt(server.port, { ca: ca.certPem, holdMs: 1000 });
  assert.equal(outcome.error, 'ECONNREFUSED', 'the listener is closed');
  server.credentials.close();
});
