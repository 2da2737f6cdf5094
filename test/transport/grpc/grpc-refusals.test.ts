// Hostile peers on both sides of a gRPC connection, with real handshakes. Server side: a client from
// another CA, a client whose URI SAN is not the one admitted, a client without a certificate, a TLS 1.2
// client; each is refused before any call reaches a handler and the server counts the exact reason.
// Client side: a server from another CA, a server proving the wrong URI SAN, a TLS 1.2-only server; the
// client refuses before sending a call byte, counts the reason and the failed call names it.
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { createServer as createTlsServer } from 'node:tls';
import { ChannelCredentials, type ServiceError, status } from '@grpc/grpc-js';
import { exactUri } from '../../../src/tls/authorize.ts';
import { serverTlsOptions } from '../../../src/tls/policy.ts';
import { createMtlsChannelCredentials } from '../../../src/transport/grpc/channel-credentials.ts';
import { call, EchoClient } from '../../support/grpc-echo.ts';
import {
  type GrpcTestServer,
  grpcClient,
  ONE_CONNECTION_ATTEMPT,
  startGrpcServer,
} from '../../support/grpc-peers.ts';
import { counterValue } from '../../support/metrics.ts';
import { createTestCa, pemOf, type TestCa, tempDir, testUri, writeMaterial } from '../../support/pki.ts';
import { until } from '../../support/reload.ts';
import { openStaticCredentials, rawTlsAttempt, silentLogger } from '../../support/tls-peers.ts';

const rejections = (registry: GrpcTestServer['registry'], side: string, reason: string) =>
  counterValue(registry, 'tessera_tls_handshake_rejections_total', { side, reason });

function assertUnavailable(pattern?: RegExp) {
  return (error: ServiceError) => {
    assert.equal(error.code, status.UNAVAILABLE);
    if (pattern) assert.match(error.details, pattern);
    return true;
  };
}

describe('gRPC server refuses hostile clients (reason counted by the server)', () => {
  let ca: TestCa;
  let otherCa: TestCa;
  let dir: string;
  let server: GrpcTestServer;
  let removeDir: () => unknown = () => {};

  before(async () => {
    ca = await createTestCa();
    otherCa = await createTestCa('Other CA');
    dir = await tempDir({ after: (fn) => (removeDir = fn) });
    server = await startGrpcServer(
      await writeMaterial(dir, 'server', await ca.issue('server'), ca.certPem),
      exactUri(testUri('alice')),
    );
  });
  after(async () => {
    await server.close();
    await removeDir();
  });

  async function refusedWith(reason: string, attempt: () => Promise<unknown>) {
    const before = await rejections(server.registry, 'server', reason);
    const calls = server.echo.calls;
    await attempt();
    await until(`server counts ${reason}`, async () =>
      (await rejections(server.registry, 'server', reason)) === before + 1 ? true : undefined,
    );
    assert.equal(server.rejections.at(-1)?.reason, reason);
    assert.equal(server.echo.calls, calls, 'no call reached a handler');
  }

  test('admitted client works (control)', async (t) => {
    const alice = await grpcClient(
      server.port,
      await writeMaterial(dir, 'alice', await ca.issue('alice'), ca.certPem),
      testUri('server'),
    );
    t.after(() => alice.close());
    assert.deepEqual((await call(alice.client, 'WhoAmI')).uris, [testUri('alice')]);
  });

  test('client certificate from another CA: cert_untrusted', async (t) => {
    // The client trusts our CA (it would accept the server) but presents a leaf of another CA.
    const sub = await tempDir(t);
    const paths = await writeMaterial(
      sub,
      'alice',
      await otherCa.issue('alice'),
      `${otherCa.certPem}${ca.certPem}`,
    );
    const client = await grpcClient(server.port, paths, testUri('server'));
    t.after(() => client.close());
    await refusedWith('cert_untrusted', () =>
      assert.rejects(call(client.client, 'WhoAmI'), assertUnavailable()),
    );
  });

  test('client with the wrong URI SAN: uri_mismatch (connection refused before any HTTP/2 byte)', async (t) => {
    const mallory = await grpcClient(
      server.port,
      await writeMaterial(dir, 'mallory', await ca.issue('mallory'), ca.certPem),
      testUri('server'),
    );
    t.after(() => mallory.close());
    await refusedWith('uri_mismatch', () =>
      assert.rejects(call(mallory.client, 'WhoAmI'), assertUnavailable()),
    );
    assert.equal(server.rejections.at(-1)?.peer, testUri('mallory'));
  });

  test('client without a certificate: no_client_certificate', async (t) => {
    // grpc-js's own TLS credentials without a key pair; the server identity check is disabled so only
    // the server's decision is under test.
    const credentials = ChannelCredentials.createSsl(Buffer.from(ca.certPem), null, null, {
      checkServerIdentity: () => undefined,
    });
    const client = new EchoClient(`127.0.0.1:${server.port}`, credentials, ONE_CONNECTION_ATTEMPT);
    t.after(() => client.close());
    await refusedWith('no_client_certificate', () =>
      assert.rejects(call(client, 'WhoAmI'), assertUnavailable()),
    );
  });

  test('TLS 1.2 client: protocol_version', async () => {
    const alice = pemOf(await ca.issue('alice'), ca.certPem);
    await refusedWith('protocol_version', async () => {
      const outcome = await rawTlsAttempt(server.port, {
        cert: alice.certPem,
        key: alice.keyPem,
        ca: alice.caPem,
        maxVersion: 'TLSv1.2',
        ALPNProtocols: ['h2'],
      });
      assert.equal(outcome.handshake, false);
    });
  });
});

describe('gRPC client refuses hostile servers (reason counted by the client)', () => {
  let ca: TestCa;
  let dir: string;
  let removeDir: () => unknown = () => {};

  before(async () => {
    ca = await createTestCa();
    dir = await tempDir({ after: (fn) => (removeDir = fn) });
  });
  after(() => removeDir());

  async function refusingClient(t: { after(fn: () => unknown): void }, port: number, reason: string) {
    const client = await grpcClient(
      port,
      await writeMaterial(dir, 'alice', await ca.issue('alice'), ca.certPem),
      testUri('server'),
    );
    t.after(() => client.close());
    await assert.rejects(call(client.client, 'WhoAmI'), assertUnavailable(new RegExp(reason)));
    assert.equal(client.rejections[0]?.side, 'client');
    assert.equal(client.rejections[0]?.reason, reason);
    assert.ok((await rejections(client.registry, 'client', reason)) >= 1);
    return client;
  }

  test('server certificate from another CA: cert_untrusted', async (t) => {
    const otherCa = await createTestCa('Rogue CA');
    const sub = await tempDir(t);
    const rogue = await startGrpcServer(
      await writeMaterial(sub, 'server', await otherCa.issue('server'), `${otherCa.certPem}${ca.certPem}`),
      exactUri(testUri('alice')),
    );
    t.after(() => rogue.close());
    await refusingClient(t, rogue.port, 'cert_untrusted');
    assert.equal(rogue.echo.calls, 0);
  });

  test('server proving the wrong URI SAN: uri_mismatch, no call byte sent', async (t) => {
    const sub = await tempDir(t);
    const impostor = await startGrpcServer(
      await writeMaterial(sub, 'server', await ca.issue('impostor'), ca.certPem),
      exactUri(testUri('alice')),
    );
    t.after(() => impostor.close());
    const client = await refusingClient(t, impostor.port, 'uri_mismatch');
    assert.equal(client.rejections[0]?.peer, testUri('impostor'));
    assert.equal(impostor.echo.calls, 0, 'the impostor never saw a call');
  });

  test('no expected identity for the server: no_declared_identity (a verified chain is never enough)', async (t) => {
    const sub = await tempDir(t);
    const server = await startGrpcServer(
      await writeMaterial(sub, 'server', await ca.issue('server'), ca.certPem),
      exactUri(testUri('alice')),
    );
    t.after(() => server.close());
    const credentials = await openStaticCredentials(
      await writeMaterial(sub, 'alice', await ca.issue('alice'), ca.certPem),
    );
    const reported: string[] = [];
    const channelCredentials = createMtlsChannelCredentials({
      credentials,
      logger: silentLogger,
      onRejected: (rejection) => reported.push(rejection.reason),
    });
    const client = new EchoClient(`127.0.0.1:${server.port}`, channelCredentials, ONE_CONNECTION_ATTEMPT);
    t.after(() => {
      client.close();
      channelCredentials.close();
      credentials.close();
    });
    await assert.rejects(call(client, 'WhoAmI'), assertUnavailable(/no_declared_identity/));
    assert.deepEqual(reported, ['no_declared_identity']);
    assert.equal(server.echo.calls, 0);
  });

  test('TLS 1.2-only server: protocol_version', async (t) => {
    const server = pemOf(await ca.issue('server'), ca.certPem);
    const legacy = createTlsServer({
      ...serverTlsOptions(server),
      minVersion: 'TLSv1.2',
      maxVersion: 'TLSv1.2',
      ciphers: 'ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256',
      ALPNProtocols: ['h2'],
    });
    legacy.on('tlsClientError', () => {});
    await new Promise<void>((resolve) => legacy.listen(0, '127.0.0.1', resolve));
    t.after(() => new Promise((resolve) => legacy.close(resolve)));
    await refusingClient(t, (legacy.address() as AddressInfo).port, 'protocol_version');
  });
});
