// Credential reload and live revalidation on the framed wire, with real handshakes: both sides reload new
// certificates from their CredentialSource mid-connection. The open connection keeps going (same session,
// same identities); every new connection presents the new certificates. A peer that the authorizer refuses
// later is closed by peerGate.revalidate(), and the other connections are untouched.
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { allOf, denyList, exactUri, uriPrefix } from '../../../src/tls/authorize.ts';
import { framedClient, roundTrip, startFramedServer } from '../../support/framed-peers.ts';
import { createTestCa, tempDir, testUri, writeMaterial } from '../../support/pki.ts';
import { fingerprintOf } from '../../support/reload.ts';
import { openStaticCredentials } from '../../support/tls-peers.ts';

test('rotation on both sides mid-connection: the connection is kept, new connections use the new certificates', async (t) => {
  const ca = await createTestCa();
  const dir = await tempDir(t);
  const serverV1 = await ca.issue('server');
  const clientV1 = await ca.issue('alice');
  const serverPaths = await writeMaterial(dir, 'server', serverV1, ca.certPem);
  const clientPaths = await writeMaterial(dir, 'alice', clientV1, ca.certPem);
  const server = await startFramedServer(serverPaths, exactUri(testUri('alice')));
  t.after(() => server.close());
  const credentials = await openStaticCredentials(clientPaths);
  t.after(() => credentials.close());
  const client = await framedClient(server.port, clientPaths, testUri('server'), { credentials });
  t.after(() => client.close());

  const first = await client.connect();
  t.after(() => first.destroy());
  const firstServerSide = await server.nextConnection();
  assert.equal((await roundTrip(first, Buffer.from('before'))).toString(), 'before');
  assert.equal(first.peer.fingerprint256, fingerprintOf(serverV1.certPem));
  assert.equal(firstServerSide.peer.fingerprint256, fingerprintOf(clientV1.certPem));

  // Same paths, new leaves (new keys), validated and swapped by each source.
  const serverV2 = await ca.issue('server');
  const clientV2 = await ca.issue('alice');
  await writeMaterial(dir, 'server', serverV2, ca.certPem);
  await writeMaterial(dir, 'alice', clientV2, ca.certPem);
  assert.equal((await server.credentials.reload()).result, 'success');
  assert.equal((await credentials.reload()).result, 'success');

  // The open connection keeps going, on its session.
  assert.equal((await roundTrip(first, Buffer.from('after'))).toString(), 'after');
  assert.equal(first.closeReason, null);

  // A new connection: each side presents, and sees, the new certificate.
  const second = await client.connect();
  t.after(() => second.destroy());
  const secondServerSide = await server.nextConnection();
  assert.equal((await roundTrip(second, Buffer.from('new'))).toString(), 'new');
  assert.equal(second.peer.fingerprint256, fingerprintOf(serverV2.certPem));
  assert.equal(secondServerSide.peer.fingerprint256, fingerprintOf(clientV2.certPem));
});

test('peerGate.revalidate() closes the connections of a peer now refused; the others keep going', async (t) => {
  const ca = await createTestCa();
  const dir = await tempDir(t);
  const serverPaths = await writeMaterial(dir, 'server', await ca.issue('server'), ca.certPem);
  const alicePaths = await writeMaterial(dir, 'alice', await ca.issue('alice'), ca.certPem);
  const bobPaths = await writeMaterial(dir, 'bob', await ca.issue('bob'), ca.certPem);
  const denied = new Set<string>();
  const server = await startFramedServer(
    serverPaths,
    allOf(
      uriPrefix('spiffe://test.example/'),
      denyList(() => ({ uris: denied })),
    ),
  );
  t.after(() => server.close());
  const alice = await framedClient(server.port, alicePaths, testUri('server'));
  const bob = await framedClient(server.port, bobPaths, testUri('server'));
  t.after(() => {
    alice.close();
    bob.close();
  });
  const aliceConnection = await alice.connect();
  const bobConnection = await bob.connect();
  t.after(() => bobConnection.destroy());
  await roundTrip(aliceConnection, Buffer.from('a'));
  await roundTrip(bobConnection, Buffer.from('b'));

  denied.add(testUri('alice'));
  assert.equal(server.server.peerGate.revalidate(), 1);
  await aliceConnection.closed;
  assert.equal(aliceConnection.closeReason, 'socket_closed');
  assert.deepEqual(
    server.rejections.map((rejection) => [rejection.reason, rejection.peer]),
    [['denied', testUri('alice')]],
  );
  assert.equal((await roundTrip(bobConnection, Buffer.from('still'))).toString(), 'still');
  await assert.rejects(
    (async () => {
      const again = await alice.connect();
      await roundTrip(again, Buffer.from('x'));
    })(),
    'a new connection from the denied peer is refused too',
  );
});

test('a client that drops the server’s CA from its bundle closes its open connection (cert_untrusted), even after the app read the certificate', async (t) => {
  const oldCa = await createTestCa('Old CA');
  const newCa = await createTestCa('New CA');
  const dir = await tempDir(t);
  const both = oldCa.certPem + newCa.certPem;
  // The server still holds an old-CA leaf; the client's own leaf is already from the new CA.
  const serverPaths = await writeMaterial(dir, 'server', await oldCa.issue('server'), both);
  const server = await startFramedServer(serverPaths, exactUri(testUri('alice')));
  t.after(() => server.close());
  const clientDir = join(dir, 'client');
  await mkdir(clientDir);
  const clientPaths = await writeMaterial(clientDir, 'alice', await newCa.issue('alice'), both);
  const credentials = await openStaticCredentials(clientPaths);
  t.after(() => credentials.close());
  const client = await framedClient(server.port, clientPaths, testUri('server'), { credentials });
  t.after(() => client.close());
  const connection = await client.connect();
  t.after(() => connection.destroy());
  assert.equal((await roundTrip(connection, Buffer.from('before'))).toString(), 'before');
  // On Node 20 this empties the socket's certificate for every later read: the re-check must not care.
  assert.ok(connection.socket.getPeerX509Certificate());

  // A reload that still trusts the server's CA (a third CA added) re-checks the connection and keeps it.
  await writeFile(clientPaths.caPath, both + (await createTestCa('Third CA')).certPem);
  assert.equal((await credentials.reload()).result, 'success');
  assert.equal((await roundTrip(connection, Buffer.from('kept'))).toString(), 'kept');
  assert.equal(client.rejections.length, 0, 'nothing refused');

  await writeFile(clientPaths.caPath, newCa.certPem);
  assert.equal((await credentials.reload()).result, 'success');
  await connection.closed;
  assert.deepEqual(
    client.rejections.map((rejection) => rejection.reason),
    ['cert_untrusted'],
  );
});
