// grpc-js's own listener (`server.bindAsync`) fed through the certificate-provider API: a
// CredentialSourceCertificateProvider pushes every validated reload to createPolicyServerCredentials, which
// swaps the listener's secure context in place with the TLS 1.3 policy kept. Also shows why that class
// exists: grpc-js's stock provider credentials let a TLS 1.2 handshake through once credentials load.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type ConnectionOptions, connect } from 'node:tls';
import { experimental, Server, type ServerCredentials, type ServiceError, status } from '@grpc/grpc-js';
import { exactUri } from '../../../src/tls/authorize.ts';
import { grpcCallAuthorizer } from '../../../src/transport/grpc/call-authorizer.ts';
import { CredentialSourceCertificateProvider } from '../../../src/transport/grpc/certificate-provider.ts';
import { createPolicyServerCredentials } from '../../../src/transport/grpc/server-credentials.ts';
import { call, EchoClient, echoImplementation, echoService } from '../../support/grpc-echo.ts';
import { grpcClient } from '../../support/grpc-peers.ts';
import { createTestCa, pemOf, type TestCa, tempDir, testUri, writeMaterial } from '../../support/pki.ts';
import { fingerprintOf, hexFingerprint, until } from '../../support/reload.ts';
import { openStaticCredentials, silentLogger } from '../../support/tls-peers.ts';

/** One raw handshake: did it complete, and which certificate did the server present? */
function handshake(port: number, options: ConnectionOptions): Promise<{ ok: boolean; served?: string }> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port, checkServerIdentity: () => undefined, ...options });
    socket.once('secureConnect', () => {
      const served = socket.getPeerX509Certificate()?.fingerprint256;
      socket.destroy();
      resolve({ ok: true, ...(served ? { served: hexFingerprint(served) } : {}) });
    });
    socket.once('error', () => resolve({ ok: false }));
  });
}

async function bind(server: Server, credentials: ServerCredentials): Promise<number> {
  return new Promise((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', credentials, (error, port) => (error ? reject(error) : resolve(port))),
  );
}

async function clientPem(ca: TestCa, name: string) {
  return pemOf(await ca.issue(name), ca.certPem);
}

test('bindAsync with policy credentials: reload in place, TLS 1.2 refused before and after, per-call rules', async (t) => {
  const ca = await createTestCa();
  const dir = await tempDir(t);
  const serverV1 = await ca.issue('server');
  const paths = await writeMaterial(dir, 'server', serverV1, ca.certPem);
  const source = await openStaticCredentials(paths);
  t.after(() => source.close());
  const server = new Server({
    interceptors: [grpcCallAuthorizer({ authorize: exactUri(testUri('alice')), logger: silentLogger })],
  });
  server.addService(echoService, echoImplementation().handlers);
  const port = await bind(
    server,
    createPolicyServerCredentials(new CredentialSourceCertificateProvider(source)),
  );
  t.after(() => server.forceShutdown());
  const alice = await clientPem(ca, 'alice');
  const tls12 = { cert: alice.certPem, key: alice.keyPem, ca: alice.caPem, maxVersion: 'TLSv1.2' } as const;
  const tls13 = { cert: alice.certPem, key: alice.keyPem, ca: alice.caPem, ALPNProtocols: ['h2'] };

  // The first credentials arrive asynchronously from the provider: wait for a handshake to succeed.
  const first = await until('the provider to deliver the first credentials', async () => {
    const attempt = await handshake(port, tls13);
    return attempt.ok ? attempt : undefined;
  });
  assert.equal(first.served, fingerprintOf(serverV1.certPem));
  assert.equal((await handshake(port, tls12)).ok, false, 'TLS 1.2 refused');

  // A Tessera client, and grpc-js's stock provider channel credentials fed by the same kind of provider.
  const tessera = await grpcClient(
    port,
    await writeMaterial(dir, 'alice', await ca.issue('alice'), ca.certPem),
    testUri('server'),
  );
  t.after(() => tessera.close());
  assert.deepEqual((await call(tessera.client, 'WhoAmI')).uris, [testUri('alice')]);
  const bobSource = await openStaticCredentials(
    await writeMaterial(dir, 'bob', await ca.issue('bob'), ca.certPem),
  );
  t.after(() => bobSource.close());
  const bobProvider = new CredentialSourceCertificateProvider(bobSource);
  const bob = new EchoClient(
    `127.0.0.1:${port}`,
    experimental.createCertificateProviderChannelCredentials(bobProvider, bobProvider, {
      checkServerIdentity: () => undefined,
    }),
    { 'grpc.use_local_subchannel_pool': 1 },
  );
  t.after(() => bob.close());
  await assert.rejects(call(bob, 'WhoAmI'), (error: ServiceError) => {
    assert.equal(error.code, status.PERMISSION_DENIED);
    assert.match(error.details, /^uri_mismatch: /);
    return true;
  });

  // Reload: the same listener presents the new certificate, and still only TLS 1.3.
  const serverV2 = await ca.issue('server');
  await writeMaterial(dir, 'server', serverV2, ca.certPem);
  assert.equal((await source.reload()).result, 'success');
  await until('a new handshake to present the new certificate', async () =>
    (await handshake(port, tls13)).served === fingerprintOf(serverV2.certPem) ? true : undefined,
  );
  assert.equal((await handshake(port, tls12)).ok, false, 'TLS 1.2 still refused after the reload');
  assert.deepEqual((await call(tessera.client, 'WhoAmI')).uris, [testUri('alice')]);
});

test("grpc-js's stock provider server credentials accept TLS 1.2 once loaded (why the policy credentials exist)", async (t) => {
  const ca = await createTestCa();
  const dir = await tempDir(t);
  const source = await openStaticCredentials(
    await writeMaterial(dir, 'server', await ca.issue('server'), ca.certPem),
  );
  t.after(() => source.close());
  const provider = new CredentialSourceCertificateProvider(source);
  const server = new Server();
  server.addService(echoService, echoImplementation().handlers);
  const port = await bind(
    server,
    experimental.createCertificateProviderServerCredentials(provider, provider, true),
  );
  t.after(() => server.forceShutdown());
  const alice = await clientPem(ca, 'alice');
  const options = { cert: alice.certPem, key: alice.keyPem, ca: alice.caPem };
  await until('the provider to deliver the first credentials', async () =>
    (await handshake(port, options)).ok ? true : undefined,
  );
  assert.equal((await handshake(port, { ...options, maxVersion: 'TLSv1.2' })).ok, true);
});
