// Every way a peer can fail to prove itself, over real TLS 1.3 handshakes: the server records the reason
// (event + counter) and no HTTP request of a refused peer is ever parsed; the client refuses a server
// whose identity is wrong before it sends a byte.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { connect as netConnect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { createServer, type TLSSocket } from 'node:tls';
import { request } from 'undici';
import { buildCertificate } from '../../src/pki/certificate.ts';
import { exactUri } from '../../src/tls/authorize.ts';
import type { CredentialSource } from '../../src/tls/credential-source.ts';
import { PeerRejectedError } from '../../src/tls/errors.ts';
import { serverTlsOptions, TLS_CIPHERS } from '../../src/tls/policy.ts';
import { createMtlsAgent } from '../../src/transport/http-client.ts';
import { counterValue } from '../support/metrics.ts';
import { createTestCa, DAY_MS, pemOf, type TestCa, tempDir, testUri, writeMaterial } from '../support/pki.ts';
import {
  openStaticCredentials,
  rawTlsAttempt,
  silentLogger,
  startTestServer,
  type TestServer,
  testMetrics,
} from '../support/tls-peers.ts';

const HTTP_GET = 'GET /whoami HTTP/1.1\r\nHost: localhost\r\n\r\n';

describe('server side: a client must prove its identity', () => {
  let ca: TestCa;
  let server: TestServer;

  before(async () => {
    ca = await createTestCa();
    const dir = await tempDir({ after });
    const paths = await writeMaterial(dir, 'server', await ca.issue('server'), ca.certPem);
    server = await startTestServer(paths, exactUri(testUri('client')));
  });
  after(() => server.close());

  /** Connects as a client with this certificate, sends an HTTP request, and returns what both sides saw. */
  async function attempt(
    leaf: { chainPem: string; keyPem: string } | null,
    extra: Record<string, unknown> = {},
  ) {
    const rejection = server.nextRejection();
    const requestsBefore = server.requests;
    const outcome = await rawTlsAttempt(server.port, {
      ca: ca.certPem,
      ...(leaf ? { cert: leaf.chainPem, key: leaf.keyPem } : {}),
      send: HTTP_GET,
      ...extra,
    });
    const recorded = await rejection;
    assert.equal(outcome.received, '', 'a refused client must not get an HTTP response');
    assert.equal(server.requests, requestsBefore, 'no request of a refused client reaches the HTTP layer');
    return { outcome, recorded };
  }

  async function assertCounted(reason: string, run: () => Promise<void>) {
    const before = await counterValue(server.registry, 'tessera_tls_handshake_rejections_total', {
      side: 'server',
      reason,
    });
    await run();
    const afterCount = await counterValue(server.registry, 'tessera_tls_handshake_rejections_total', {
      side: 'server',
      reason,
    });
    assert.equal(afterCount, before + 1, `rejection counter for ${reason} increments once`);
  }

  test('a valid client with the expected URI SAN is admitted and identified', async () => {
    const client = await ca.issue('client');
    const outcome = await rawTlsAttempt(server.port, {
      ca: ca.certPem,
      cert: client.chainPem,
      key: client.keyPem,
      send: 'GET /whoami HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n',
    });
    assert.match(outcome.received, /^HTTP\/1\.1 200/);
    assert.match(outcome.received, new RegExp(`"uris":\\["${testUri('client')}"\\]`));
  });

  test('no client certificate → no_client_certificate, client told "certificate required"', async () => {
    await assertCounted('no_client_certificate', async () => {
      const { outcome, recorded } = await attempt(null);
      assert.equal(recorded.reason, 'no_client_certificate');
      assert.equal(outcome.error, 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED');
    });
  });

  test('client certificate from another CA → cert_untrusted', async () => {
    const other = await createTestCa('Other CA');
    await assertCounted('cert_untrusted', async () => {
      const { recorded } = await attempt(await other.issue('client'));
      assert.equal(recorded.reason, 'cert_untrusted');
      assert.match(
        recorded.detail,
        /UNABLE_TO_(VERIFY_LEAF_SIGNATURE|GET_ISSUER_CERT)|SELF_SIGNED_CERT_IN_CHAIN/,
      );
    });
  });

  test('expired client certificate → cert_expired', async () => {
    const expired = await ca.issue('client', {
      notBefore: new Date(Date.now() - 10 * DAY_MS),
      notAfter: new Date(Date.now() - DAY_MS),
    });
    const { recorded } = await attempt(expired);
    assert.equal(recorded.reason, 'cert_expired');
    assert.equal(recorded.detail, 'CERT_HAS_EXPIRED');
  });

  test('not-yet-valid client certificate → cert_not_yet_valid', async () => {
    const future = await ca.issue('client', {
      notBefore: new Date(Date.now() + DAY_MS),
      notAfter: new Date(Date.now() + 10 * DAY_MS),
    });
    const { recorded } = await attempt(future);
    assert.equal(recorded.reason, 'cert_not_yet_valid');
    assert.equal(recorded.detail, 'CERT_NOT_YET_VALID');
  });

  test('client certificate without the clientAuth EKU → cert_wrong_purpose', async () => {
    const serverOnly = await ca.issue('client', { extendedKeyUsages: ['serverAuth'] });
    const { recorded } = await attempt(serverOnly);
    assert.equal(recorded.reason, 'cert_wrong_purpose');
    assert.equal(recorded.detail, 'INVALID_PURPOSE');
  });

  test('client certificate with no EKU extension at all → admitted (RFC 5280: any purpose)', async () => {
    const noEku = await ca.issue('client', { extendedKeyUsages: null });
    const requestsBefore = server.requests;
    const outcome = await rawTlsAttempt(server.port, {
      ca: ca.certPem,
      cert: noEku.chainPem,
      key: noEku.keyPem,
      send: HTTP_GET,
      holdMs: 1000,
    });
    assert.match(outcome.received, /^HTTP\/1\.1 200 /);
    assert.equal(server.requests, requestsBefore + 1);
  });

  test('a CA certificate used as the client leaf → refused (cert_wrong_purpose)', async () => {
    const intermediate = await buildCertificate({
      subjectCN: 'rogue intermediate',
      isCa: true,
      uris: [testUri('client')],
      extendedKeyUsages: ['serverAuth', 'clientAuth'],
      issuer: { certPem: ca.certPem, keyPem: ca.keyPem },
    });
    const viaIntermediate = await attempt(intermediate);
    assert.equal(viaIntermediate.recorded.reason, 'cert_wrong_purpose');
    const theRootItself = await attempt({ chainPem: ca.certPem, keyPem: ca.keyPem });
    assert.equal(theRootItself.recorded.reason, 'cert_wrong_purpose');
  });

  test('self-signed client leaf carrying the expected URI → cert_self_signed', async () => {
    const selfSigned = await buildCertificate({ subjectCN: 'client', uris: [testUri('client')] });
    const { recorded } = await attempt(selfSigned);
    assert.equal(recorded.reason, 'cert_self_signed');
    assert.equal(recorded.detail, 'DEPTH_ZERO_SELF_SIGNED_CERT');
  });

  test('valid chain but the wrong URI SAN → uri_mismatch, before any HTTP byte is parsed', async () => {
    await assertCounted('uri_mismatch', async () => {
      const { outcome, recorded } = await attempt(await ca.issue('intruder'));
      assert.equal(outcome.handshake, true, 'the chain is fine, so the TLS handshake itself completes');
      assert.equal(recorded.reason, 'uri_mismatch');
      assert.equal(recorded.peer, testUri('intruder'));
      assert.match(recorded.detail, new RegExp(`expected URI SAN ${testUri('client')}`));
    });
  });

  test('a URI SAN containing ", URI:" or quotes cannot impersonate another identity', async () => {
    for (const hostile of [
      `${testUri('intruder')}, URI:${testUri('client')}`,
      `${testUri('intruder')}", URI:"${testUri('client')}`,
    ]) {
      const leaf = await ca.issue('intruder', { uris: [hostile] });
      const { recorded } = await attempt(leaf);
      assert.equal(recorded.reason, 'uri_mismatch');
      assert.equal(recorded.peer, hostile, 'the whole SAN is one URI, read from the DER');
    }
  });

  test('a TLS 1.2-only client → protocol_version', async () => {
    const client = await ca.issue('client');
    const { outcome, recorded } = await attempt(client, { maxVersion: 'TLSv1.2', minVersion: 'TLSv1.2' });
    assert.equal(recorded.reason, 'protocol_version');
    assert.equal(outcome.handshake, false);
    assert.equal(outcome.error, 'ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION');
  });

  test('a client offering only TLS_AES_128_CCM_SHA256 → no_shared_cipher', async () => {
    const client = await ca.issue('client');
    assert.ok(!TLS_CIPHERS.includes('CCM'));
    const { outcome, recorded } = await attempt(client, { ciphers: 'TLS_AES_128_CCM_SHA256' });
    assert.equal(recorded.reason, 'no_shared_cipher');
    assert.equal(outcome.handshake, false);
  });

  test('plaintext HTTP to the TLS port gets no HTTP response', async () => {
    const rejection = server.nextRejection();
    const socket = netConnect({ host: '127.0.0.1', port: server.port });
    let received = '';
    socket.on('data', (chunk) => {
      received += chunk.toString('latin1');
    });
    socket.on('error', () => {});
    socket.write(HTTP_GET);
    await once(socket, 'close');
    const recorded = await rejection;
    assert.equal(recorded.reason, 'plaintext_http');
    assert.doesNotMatch(received, /HTTP\/1\.[01]/, 'the port never speaks HTTP in the clear');
  });
});

describe('client side: the server must prove the identity we expect, before we send a byte', () => {
  const client = testMetrics();
  let ca: TestCa;
  let clientCredentials: CredentialSource;

  before(async () => {
    ca = await createTestCa();
    const dir = await tempDir({ after });
    clientCredentials = await openStaticCredentials(
      await writeMaterial(dir, 'client', await ca.issue('client'), ca.certPem),
    );
  });
  after(() => clientCredentials.close());

  /** A bare TLS 1.3 server with the given leaf that counts every application byte it receives. */
  async function countingServer(leaf: { chainPem: string; keyPem: string }) {
    const server = createServer(serverTlsOptions(pemOf(leaf as never, ca.certPem)));
    const state = { bytes: 0, closed: 0 };
    server.on('secureConnection', (socket: TLSSocket) => {
      socket.on('data', (chunk: Buffer) => {
        state.bytes += chunk.length;
      });
      socket.on('error', () => {});
      socket.on('close', () => state.closed++);
    });
    server.on('tlsClientError', () => {
      state.closed++;
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const origin = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return { server, state, origin };
  }

  async function expectRefusal(
    serverLeaf: { chainPem: string; keyPem: string },
    expected: string,
    reason: string,
  ) {
    const { server, state, origin } = await countingServer(serverLeaf);
    const rejected: string[] = [];
    const agent = createMtlsAgent({
      credentials: clientCredentials,
      expectedIdentity: { [origin]: expected },
      logger: silentLogger,
      onRejected: (r) => rejected.push(r.reason),
      metrics: client.metrics,
    });
    const before = await counterValue(client.registry, 'tessera_tls_handshake_rejections_total', {
      side: 'client',
      reason,
    });
    const error = await request(`${origin}/facts`, {
      dispatcher: agent,
      method: 'POST',
      body: 'secret payload',
    }).then(
      () => assert.fail('the request must not succeed'),
      (e: unknown) => e,
    );
    assert.ok(error instanceof PeerRejectedError, `expected PeerRejectedError, got ${String(error)}`);
    assert.equal(error.reason, reason);
    assert.deepEqual(rejected, [reason]);
    assert.equal(
      await counterValue(client.registry, 'tessera_tls_handshake_rejections_total', {
        side: 'client',
        reason,
      }),
      before + 1,
    );
    // Wait until the server has seen the connection end, then check that nothing was sent.
    const deadline = Date.now() + 10_000;
    while (state.closed === 0 && Date.now() < deadline) await new Promise((r) => setImmediate(r));
    assert.equal(state.bytes, 0, 'not a single request byte reached the server');
    await agent.close();
    server.close();
  }

  test('server with a valid chain but the wrong URI SAN → refused with uri_mismatch', async () => {
    await expectRefusal(await ca.issue('impostor'), testUri('server'), 'uri_mismatch');
  });

  test('server whose URI SAN smuggles ", URI:<expected>" → refused with uri_mismatch', async () => {
    const leaf = await ca.issue('impostor', { uris: [`${testUri('impostor')}, URI:${testUri('server')}`] });
    await expectRefusal(leaf, testUri('server'), 'uri_mismatch');
  });

  test('server certificate whose EKU extension lacks serverAuth → refused before any request byte', async () => {
    // OpenSSL's purpose check refuses it during the handshake, before our own rules run.
    const { server, state, origin } = await countingServer(
      await ca.issue('server', { extendedKeyUsages: ['clientAuth'] }),
    );
    const agent = createMtlsAgent({
      credentials: clientCredentials,
      expectedIdentity: { [origin]: testUri('server') },
      logger: silentLogger,
    });
    const error = await request(`${origin}/`, { dispatcher: agent, method: 'POST', body: 'secret' }).then(
      () => assert.fail('the request must not succeed'),
      (e: unknown) => e as Error,
    );
    assert.match(String(error.message), /unsuitable certificate purpose/);
    assert.equal(state.bytes, 0);
    await agent.close();
    server.close();
  });

  test('server certificate with no EKU extension at all → accepted (RFC 5280: any purpose)', async () => {
    const { server, origin } = await countingServer(await ca.issue('server', { extendedKeyUsages: null }));
    server.on('secureConnection', (socket: TLSSocket) =>
      socket.once('data', () => socket.end('HTTP/1.1 204 No Content\r\nconnection: close\r\n\r\n')),
    );
    const agent = createMtlsAgent({
      credentials: clientCredentials,
      expectedIdentity: { [origin]: testUri('server') },
      logger: silentLogger,
    });
    const response = await request(`${origin}/`, { dispatcher: agent });
    assert.equal(response.statusCode, 204);
    await response.body.dump();
    await agent.close();
    server.close();
  });

  test('no expected identity configured for the origin → refused (a verified chain is not enough)', async () => {
    const { server, state, origin } = await countingServer(await ca.issue('server'));
    const agent = createMtlsAgent({ credentials: clientCredentials, logger: silentLogger });
    const error = await request(`${origin}/`, { dispatcher: agent }).catch((e: unknown) => e);
    assert.ok(error instanceof PeerRejectedError);
    assert.equal(error.reason, 'no_declared_identity');
    assert.equal(state.bytes, 0);
    await agent.close();
    server.close();
  });

  test('the right server is accepted and connections are kept alive and reused', async () => {
    const dir = await tempDir({ after });
    const paths = await writeMaterial(dir, 'server', await ca.issue('server'), ca.certPem);
    const server = await startTestServer(paths, exactUri(testUri('client')));
    let handshakes = 0;
    server.app.peerGate.on('accepted', () => handshakes++);
    const agent = createMtlsAgent({
      credentials: clientCredentials,
      expectedIdentity: { [server.origin]: testUri('server') },
      logger: silentLogger,
    });
    for (let i = 0; i < 10; i++) {
      const response = await request(`${server.origin}/whoami`, { dispatcher: agent });
      assert.equal(response.statusCode, 200);
      assert.deepEqual(((await response.body.json()) as { uris: string[] }).uris, [testUri('client')]);
    }
    // undici may open a second connection when a request is dispatched before the first is marked idle.
    assert.ok(handshakes >= 1 && handshakes <= 2, `ten sequential requests, ${handshakes} handshakes`);
    assert.equal(
      server.app.peerGate.connections.size,
      handshakes,
      'pooled connections stay open between requests',
    );
    await agent.close();
    await server.close();
  });
});
