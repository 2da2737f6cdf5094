// Certificate rotation on both sides of a gRPC connection while a server stream is open, with real
// handshakes: the server and the client each reload new certificates from their CredentialSource (the
// listener's secure context and the channel credentials follow; nothing is rebuilt). The open stream KEEPS
// going on its existing connection (its TLS session, and the identities both sides saw, are unchanged);
// every NEW connection presents the new certificates, and each side sees the other's new fingerprint.
// The same holds through a CA rotation (old+new bundle, new leaves) until the old CA is dropped: then the
// stream still running on old-CA leaves no longer chains to the bundle and its connection is closed
// (cert_untrusted, docs/operator/revocation.md), while new connections on new-CA leaves work.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ClientReadableStream } from '@grpc/grpc-js';
import { type Authorizer, allOf, exactUri, uriPrefix } from '../../../src/tls/authorize.ts';
import { call, type Tick } from '../../support/grpc-echo.ts';
import { grpcClient, startGrpcServer } from '../../support/grpc-peers.ts';
import { createTestCa, tempDir, testUri, writeMaterial } from '../../support/pki.ts';
import { fingerprintOf, until } from '../../support/reload.ts';
import { openStaticCredentials } from '../../support/tls-peers.ts';

/** Resolves with the next message on the stream. */
function nextTick(stream: ClientReadableStream<Tick>): Promise<Tick> {
  return new Promise((resolve, reject) => {
    const onData = (tick: Tick) => {
      stream.off('error', onError);
      resolve(tick);
    };
    const onError = (error: Error) => {
      stream.off('data', onData);
      reject(error);
    };
    stream.once('data', onData);
    stream.once('error', onError);
  });
}

test('rotation on both sides mid-stream: the stream is kept, new connections use the new certificates', async (t) => {
  const ca = await createTestCa();
  const dir = await tempDir(t);
  const serverV1 = await ca.issue('server');
  const clientV1 = await ca.issue('alice');
  const serverPaths = await writeMaterial(dir, 'server', serverV1, ca.certPem);
  const clientPaths = await writeMaterial(dir, 'alice', clientV1, ca.certPem);
  const server = await startGrpcServer(serverPaths, uriPrefix('spiffe://test.example/'));
  t.after(() => server.close());
  const clientCredentials = await openStaticCredentials(clientPaths);
  t.after(() => clientCredentials.close());

  // The client records the server fingerprint it verified on each new connection.
  const serverSeen: string[] = [];
  const recordServer: Authorizer = (identity, context) => {
    serverSeen.push(identity.fingerprint256);
    return exactUri(testUri('server'))(identity, context);
  };
  const first = await grpcClient(server.port, clientPaths, testUri('server'), {
    credentials: clientCredentials,
    authorize: allOf(recordServer),
  });
  t.after(() => first.close());

  const stream = first.client.Tick({}) as ClientReadableStream<Tick>;
  t.after(() => {
    stream.on('error', () => {});
    stream.cancel();
  });
  const before = await nextTick(stream);
  assert.equal(before.peer, fingerprintOf(clientV1.certPem));
  assert.deepEqual(serverSeen, [fingerprintOf(serverV1.certPem)]);

  // Rotate both sides: same paths, new leaves (new keys), validated and swapped by each source.
  const serverV2 = await ca.issue('server');
  const clientV2 = await ca.issue('alice');
  await writeMaterial(dir, 'server', serverV2, ca.certPem);
  await writeMaterial(dir, 'alice', clientV2, ca.certPem);
  assert.equal((await server.credentials.reload()).result, 'success');
  assert.equal((await clientCredentials.reload()).result, 'success');

  // The open stream keeps going on its connection: the next message arrives, in order, same identities.
  server.echo.push();
  const afterRotation = await nextTick(stream);
  assert.equal(afterRotation.n, before.n + 1, 'no message lost, none repeated');
  assert.equal(afterRotation.peer, fingerprintOf(clientV1.certPem), 'same connection, same session');
  // New calls on the existing channel reuse that connection too.
  assert.equal((await call(first.client, 'WhoAmI')).fingerprint256, fingerprintOf(clientV1.certPem));

  // A new connection: the client presents its new certificate, the server presents its new one.
  const second = await grpcClient(server.port, clientPaths, testUri('server'), {
    credentials: clientCredentials,
    authorize: allOf(recordServer),
  });
  t.after(() => second.close());
  const seenByServer = await call(second.client, 'WhoAmI');
  assert.equal(seenByServer.fingerprint256, fingerprintOf(clientV2.certPem));
  assert.deepEqual(serverSeen, [fingerprintOf(serverV1.certPem), fingerprintOf(serverV2.certPem)]);

  // And the old stream is still alive after all that.
  server.echo.push();
  assert.equal((await nextTick(stream)).n, afterRotation.n + 1);
  assert.deepEqual(server.rejections, []);
});

test('CA rotation: both sides trust old+new and move their leaves: the stream is kept; dropping the old CA closes it', async (t) => {
  const oldCa = await createTestCa('Old CA');
  const newCa = await createTestCa('New CA');
  const dir = await tempDir(t);
  const both = `${oldCa.certPem}${newCa.certPem}`;
  const serverPaths = await writeMaterial(dir, 'server', await oldCa.issue('server'), both);
  const clientV1 = await oldCa.issue('alice');
  // The client's files live apart: writeMaterial writes ca.crt next to the leaf.
  const clientDir = await tempDir(t);
  const clientPaths = await writeMaterial(clientDir, 'alice', clientV1, both);
  const server = await startGrpcServer(serverPaths, uriPrefix('spiffe://test.example/'));
  t.after(() => server.close());
  const clientCredentials = await openStaticCredentials(clientPaths);
  t.after(() => clientCredentials.close());
  const first = await grpcClient(server.port, clientPaths, testUri('server'), {
    credentials: clientCredentials,
  });
  t.after(() => first.close());
  const stream = first.client.Tick({}) as ClientReadableStream<Tick>;
  t.after(() => {
    stream.on('error', () => {});
    stream.cancel();
  });
  const before = await nextTick(stream);

  // Step 1: leaves from the new CA, bundles still hold both.
  const clientV2 = await newCa.issue('alice');
  await writeMaterial(dir, 'server', await newCa.issue('server'), both);
  await writeMaterial(clientDir, 'alice', clientV2, both);
  assert.equal((await server.credentials.reload()).result, 'success');
  assert.equal((await clientCredentials.reload()).result, 'success');
  server.echo.push();
  assert.equal((await nextTick(stream)).n, before.n + 1, 'the stream opened under the old CA keeps going');

  // Step 2: drop the old CA everywhere: the connection still on old-CA leaves is closed at the reload.
  const ended = new Promise<Error>((resolve) => stream.once('error', resolve));
  await writeMaterial(dir, 'server', await newCa.issue('server'), newCa.certPem);
  await writeMaterial(clientDir, 'alice', clientV2, newCa.certPem);
  assert.equal((await server.credentials.reload()).result, 'success');
  assert.equal((await clientCredentials.reload()).result, 'success');
  assert.match(String(await ended), /UNAVAILABLE/);
  assert.equal(server.rejections.at(-1)?.reason, 'cert_untrusted');
  assert.equal(server.rejections.at(-1)?.peer, testUri('alice'));
  const closedOnReload = server.rejections.length;
  const second = await grpcClient(server.port, clientPaths, testUri('server'), {
    credentials: clientCredentials,
  });
  t.after(() => second.close());
  assert.equal((await call(second.client, 'WhoAmI')).fingerprint256, fingerprintOf(clientV2.certPem));

  // A client still holding an old-CA leaf is now refused by the server on a new connection.
  const stale = await grpcClient(
    server.port,
    await writeMaterial(await tempDir(t), 'alice', clientV1, both),
    testUri('server'),
  );
  t.after(() => stale.close());
  await assert.rejects(call(stale.client, 'WhoAmI'));
  await until('the server to record the refusal', () => server.rejections.length > closedOnReload);
  assert.equal(server.rejections.at(-1)?.reason, 'cert_untrusted');
});
