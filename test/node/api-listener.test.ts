// The node's API listener, on real node processes: the static API key (401 without or with a wrong one),
// health/readiness/metrics and the well-known document open to probes, the split between the federation
// and API listeners, TESSERA_API_TLS=tls (TLS 1.3 with the node's certificate, no plaintext) and =mtls (no
// client certificate → refused in the handshake), and TESSERA_AUTH_REQUIRED=false on loopback.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { connect } from 'node:tls';
import { Agent, request } from 'undici';
import type { IssuedCertificate } from '../../src/pki/certificate.ts';
import { fact, type NodeProcess, startNodeProcess } from '../support/node-process.ts';
import { createTestCa, type TestCa } from '../support/pki.ts';
import { rawTlsAttempt } from '../support/tls-peers.ts';

type ErrorBody = { error: string; detail: string };

/** Client-side TLS material for one request: the CA to verify the server and, optionally, our certificate. */
interface ClientTls {
  ca?: string;
  cert?: IssuedCertificate;
}

/** One HTTP(S) request with its own agent (so no connection is reused between cases). */
async function call<T = unknown>(
  url: string,
  options: {
    method?: 'GET' | 'POST';
    apiKey?: string;
    /** A raw Authorization header, instead of `Bearer <apiKey>`. */
    authorization?: string;
    body?: unknown;
    tls?: ClientTls;
  } = {},
): Promise<{ status: number; body: T; text: string; headers: Record<string, unknown> }> {
  const dispatcher = new Agent({
    connect: {
      ...(options.tls?.ca ? { ca: options.tls.ca } : {}),
      ...(options.tls?.cert ? { cert: options.tls.cert.chainPem, key: options.tls.cert.keyPem } : {}),
    },
  });
  try {
    const response = await request(url, {
      method: options.method ?? 'GET',
      dispatcher,
      headers: {
        ...(options.apiKey ? { authorization: `Bearer ${options.apiKey}` } : {}),
        ...(options.authorization ? { authorization: options.authorization } : {}),
        ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
    });
    const text = await response.body.text();
    const json = response.headers['content-type']?.toString().startsWith('application/json');
    return {
      status: response.statusCode,
      body: (json && text ? JSON.parse(text) : text) as T,
      text,
      headers: response.headers,
    };
  } finally {
    await dispatcher.close();
  }
}

describe('the API listener of a real node', () => {
  let ca: TestCa;
  let root: string;
  /** A client certificate from the nodes' CA (URI spiffe://test.example/node/operator). */
  let operator: IssuedCertificate;
  let plain: NodeProcess;
  let tlsNode: NodeProcess;
  let mtlsNode: NodeProcess;
  let open: NodeProcess;

  before(async () => {
    ca = await createTestCa();
    root = await mkdtemp(join(tmpdir(), 'tessera-api-'));
    operator = await ca.issue('operator');
    [plain, tlsNode, mtlsNode, open] = await Promise.all([
      startNodeProcess({ name: 'plain', ca, root }),
      startNodeProcess({ name: 'tls', ca, root, env: { TESSERA_API_TLS: 'tls' } }),
      startNodeProcess({ name: 'mtls', ca, root, env: { TESSERA_API_TLS: 'mtls' } }),
      startNodeProcess({
        name: 'open',
        ca,
        root,
        env: { TESSERA_AUTH_REQUIRED: 'false', TESSERA_API_KEY: '' },
      }),
    ]);
  });
  after(async () => {
    await Promise.all([plain, tlsNode, mtlsNode, open].map((n) => n?.stop()));
    await rm(root, { recursive: true, force: true });
  });

  const api = (node: NodeProcess, path: string) => new URL(path, node.apiUrl).toString();
  const federation = (node: NodeProcess, path: string) => new URL(path, node.federationUrl).toString();

  describe('static API key', () => {
    test('no Authorization → 401 unauthorized, and nothing is written', async () => {
      const none = await call<ErrorBody>(api(plain, '/v1/facts'));
      assert.equal(none.status, 401);
      assert.equal(none.body.error, 'unauthorized');
      assert.match(none.body.detail, /Authorization: Bearer <key>/);
      const write = await call<ErrorBody>(api(plain, '/v1/facts'), {
        method: 'POST',
        body: fact('test:unauthenticated'),
      });
      assert.equal(write.status, 401);
      assert.equal(write.body.error, 'unauthorized');
      const list = await plain.api<{ total: number }>('GET', '/v1/facts?entity=test:unauthenticated');
      assert.equal(list.body.total, 0);
    });

    test('a wrong or malformed key → 401 unauthorized; neither key is ever logged', async () => {
      const wrongKey = `${plain.apiKey.slice(0, -1)}${plain.apiKey.endsWith('x') ? 'y' : 'x'}`;
      for (const key of [wrongKey, 'short', `${plain.apiKey}extra`]) {
        const wrong = await call<ErrorBody>(api(plain, '/v1/facts'), { apiKey: key });
        assert.equal(wrong.status, 401, key);
        assert.deepEqual(wrong.body, { error: 'unauthorized', detail: 'the API key is not valid' });
      }
      // The right key, but not as a bearer token.
      for (const authorization of [`Basic ${plain.apiKey}`, plain.apiKey]) {
        const malformed = await call<ErrorBody>(api(plain, '/v1/admin/peers'), { authorization });
        assert.equal(malformed.status, 401, authorization);
        assert.equal(malformed.body.error, 'unauthorized');
      }
      assert.ok(!plain.proc.stdout().includes(plain.apiKey), 'the configured key is not in the logs');
      assert.ok(!plain.proc.stdout().includes(wrongKey), 'the presented key is not in the logs');
    });

    test('the right key → 200 on the facts and admin routes', async () => {
      const created = await call<{ id: string }>(api(plain, '/v1/facts'), {
        method: 'POST',
        apiKey: plain.apiKey,
        body: fact('test:authorised'),
      });
      assert.equal(created.status, 201);
      const list = await call<{ facts: { id: string }[]; total: number }>(
        api(plain, '/v1/facts?entity=test:authorised'),
        { apiKey: plain.apiKey },
      );
      assert.equal(list.status, 200);
      assert.equal(list.body.total, 1);
      assert.equal(list.body.facts[0]?.id, created.body.id);
      const peers = await call<{ peers: unknown[] }>(api(plain, '/v1/admin/peers'), { apiKey: plain.apiKey });
      assert.equal(peers.status, 200);
      assert.deepEqual(peers.body, { peers: [] });
    });
  });

  describe('open routes', () => {
    test('/healthz and /readyz answer without a key; ready means store and TLS ok', async () => {
      const health = await call(api(plain, '/healthz'));
      assert.equal(health.status, 200);
      assert.deepEqual(health.body, { status: 'ok' });
      const ready = await call(api(plain, '/readyz'));
      assert.equal(ready.status, 200);
      assert.deepEqual(ready.body, { status: 'ok', checks: { store: 'ok', tls: 'ok' } });
    });

    test('/metrics answers without a key with the TLS expiry gauges and the facts counter', async () => {
      const written = await plain.api('POST', '/v1/facts', fact('test:counted'));
      assert.equal(written.status, 201);
      const metrics = await call<string>(api(plain, '/metrics'));
      assert.equal(metrics.status, 200);
      assert.match(String(metrics.headers['content-type']), /^text\/plain/);
      const leaf = new X509Certificate(await readFile(plain.tls.certPath, 'utf8'));
      const notAfter = Math.floor(new Date(leaf.validTo).getTime() / 1000);
      const expiry = /^tessera_tls_cert_expiry_timestamp_seconds\{cert="leaf"\} (\d+)/m.exec(metrics.text);
      assert.ok(expiry, 'the leaf expiry gauge is exported');
      assert.equal(Math.floor(Number(expiry[1])), notAfter);
      const facts = /^tessera_facts_written_total (\d+)/m.exec(metrics.text);
      assert.ok(facts, 'the facts counter is exported');
      assert.ok(Number(facts[1]) >= 1, `tessera_facts_written_total = ${facts[1]}`);
    });

    test('/.well-known/tessera on the API answers the documented fields without a key', async () => {
      type Info = Record<string, unknown> & { auth: unknown; federation: unknown };
      const info = await call<Info>(api(plain, '/.well-known/tessera'));
      assert.equal(info.status, 200);
      assert.deepEqual(Object.keys(info.body).sort(), [
        'auth',
        'entity_uri',
        'federation',
        'federation_url',
        'key_id',
        'node_url',
        'public_key',
        'version',
      ]);
      assert.equal(info.body.version, '0.1.0');
      assert.equal(info.body.entity_uri, plain.entityUri);
      assert.equal(info.body.node_url, plain.federationUrl);
      assert.equal(info.body.federation_url, plain.federationUrl);
      assert.deepEqual(info.body.auth, { api_keys: true });
      assert.deepEqual(info.body.federation, { transport: 'mtls', token: 'EdDSA-JWT' });
      assert.match(String(info.body.public_key), /^[A-Za-z0-9_-]{43}$/);
      assert.equal(typeof info.body.key_id, 'string');
      // The same document the federation listener serves to peers.
      const onFederation = await call<Info>(federation(plain, '/.well-known/tessera'), {
        tls: { ca: ca.certPem, cert: operator },
      });
      assert.deepEqual(onFederation.body, info.body);
      const manifest = await call<{ entity_uri: string }>(api(plain, '/.well-known/tessera-manifest.json'));
      assert.equal(manifest.status, 200);
      assert.equal(manifest.body.entity_uri, plain.entityUri);
    });
  });

  describe('two listeners, two jobs', () => {
    test('the federation listener serves only /.well-known/*, /v1/federation/* and the health probes', async () => {
      const tls = { ca: ca.certPem, cert: operator };
      for (const [method, path] of [
        ['GET', '/v1/facts'],
        ['POST', '/v1/facts'],
        ['GET', '/v1/admin/peers'],
        ['GET', '/metrics'],
      ] as const) {
        const response = await call<ErrorBody>(federation(plain, path), {
          method,
          tls,
          apiKey: plain.apiKey,
          ...(method === 'POST' ? { body: fact('test:wrong-listener') } : {}),
        });
        assert.equal(response.status, 404, `${method} ${path}`);
        assert.equal(response.body.error, 'not_found', `${method} ${path}`);
      }
      assert.equal((await call(federation(plain, '/.well-known/tessera'), { tls })).status, 200);
      // The Stigmem documents' check: health over mTLS on the federation port, no token.
      assert.equal((await call(federation(plain, '/healthz'), { tls })).status, 200);
      // Served here: it asks for a peer token rather than not knowing the route.
      const feed = await call<ErrorBody>(federation(plain, '/v1/federation/facts'), { tls });
      assert.equal(feed.status, 401);
      assert.equal(feed.body.error, 'token_missing');
      const list = await plain.api<{ total: number }>('GET', '/v1/facts?entity=test:wrong-listener');
      assert.equal(list.body.total, 0);
    });

    test('the API listener does not serve /v1/federation/*', async () => {
      const feed = await call<ErrorBody>(api(plain, '/v1/federation/facts'), { apiKey: plain.apiKey });
      assert.equal(feed.status, 404);
      assert.equal(feed.body.error, 'not_found');
      const wake = await call<ErrorBody>(api(plain, '/v1/federation/wake'), {
        method: 'POST',
        apiKey: plain.apiKey,
        body: {},
      });
      assert.equal(wake.status, 404);
      assert.equal(wake.body.error, 'not_found');
    });
  });

  describe('TESSERA_API_TLS=tls', () => {
    test('the API answers over TLS 1.3 with the node certificate, verified with the CA', async () => {
      const port = Number(new URL(tlsNode.apiUrl).port);
      assert.match(tlsNode.apiUrl, /^https:\/\//);
      const { protocol, fingerprint, authorized } = await new Promise<{
        protocol: string | null;
        fingerprint: string | undefined;
        authorized: boolean;
      }>((resolve, reject) => {
        // Default checkServerIdentity: the certificate must name 127.0.0.1 too.
        const socket = connect({ host: '127.0.0.1', port, ca: ca.certPem }, () => {
          resolve({
            protocol: socket.getProtocol(),
            fingerprint: socket.getPeerX509Certificate()?.fingerprint256,
            authorized: socket.authorized,
          });
          socket.end();
        });
        socket.once('error', reject);
      });
      assert.equal(protocol, 'TLSv1.3');
      assert.equal(authorized, true);
      const leaf = new X509Certificate(await readFile(tlsNode.tls.certPath, 'utf8'));
      assert.equal(fingerprint, leaf.fingerprint256);
      const facts = await call<{ total: number }>(api(tlsNode, '/v1/facts'), {
        apiKey: tlsNode.apiKey,
        tls: { ca: ca.certPem },
      });
      assert.equal(facts.status, 200);
      const noKey = await call<ErrorBody>(api(tlsNode, '/v1/facts'), { tls: { ca: ca.certPem } });
      assert.equal(noKey.status, 401, 'TLS does not replace the API key');
      const ready = await call(api(tlsNode, '/readyz'), { tls: { ca: ca.certPem } });
      assert.deepEqual(ready.body, { status: 'ok', checks: { store: 'ok', tls: 'ok' } });
    });

    test('a plaintext request fails, and so does TLS 1.2', async () => {
      const port = new URL(tlsNode.apiUrl).port;
      await assert.rejects(
        request(`http://127.0.0.1:${port}/healthz`),
        (error: Error & { code?: string }) => {
          assert.ok(error.code?.startsWith('UND_ERR') || error.code?.startsWith('HPE_'), String(error.code));
          return true;
        },
      );
      const old = await rawTlsAttempt(Number(port), { ca: ca.certPem, maxVersion: 'TLSv1.2', holdMs: 2000 });
      assert.equal(old.handshake, false);
      assert.match(String(old.error), /PROTOCOL_VERSION|UNSUPPORTED_PROTOCOL|WRONG_VERSION/);
    });
  });

  describe('TESSERA_API_TLS=mtls', () => {
    test('a client without a certificate is refused in the handshake, with the reason logged', async () => {
      const port = Number(new URL(mtlsNode.apiUrl).port);
      const outcome = await rawTlsAttempt(port, {
        ca: ca.certPem,
        send: 'GET /healthz HTTP/1.1\r\nHost: api\r\n\r\n',
      });
      assert.equal(outcome.received, '', 'not a byte of HTTP came back');
      assert.match(String(outcome.error), /CERTIFICATE_REQUIRED|ECONNRESET/);
      const rejected = await mtlsNode.proc.waitForEvent(
        (e) => e.event === 'tls_peer_rejected' && e.side === 'server',
        10_000,
      );
      assert.equal(rejected.reason, 'no_client_certificate');
      await assert.rejects(call(api(mtlsNode, '/healthz'), { tls: { ca: ca.certPem } }));
    });

    test('a certificate from another CA is refused; a CA-issued one needs the API key as well', async () => {
      const stranger = await (await createTestCa('Stranger CA')).issue('operator');
      await assert.rejects(
        call(api(mtlsNode, '/healthz'), { tls: { ca: ca.certPem, cert: stranger } }),
        (error: Error & { code?: string }) => {
          assert.match(String(error.code), /UND_ERR_SOCKET|ECONNRESET|ERR_SSL/);
          return true;
        },
      );
      const untrusted = await mtlsNode.proc.waitForEvent(
        (e) => e.event === 'tls_peer_rejected' && e.reason === 'cert_untrusted',
        10_000,
      );
      assert.equal(untrusted.side, 'server');
      const tls = { ca: ca.certPem, cert: operator };
      const noKey = await call<ErrorBody>(api(mtlsNode, '/v1/facts'), { tls });
      assert.equal(noKey.status, 401);
      assert.equal(noKey.body.error, 'unauthorized');
      const ok = await call<{ total: number }>(api(mtlsNode, '/v1/facts'), { tls, apiKey: mtlsNode.apiKey });
      assert.equal(ok.status, 200);
      assert.equal(ok.body.total, 0);
    });
  });

  describe('TESSERA_AUTH_REQUIRED=false on a loopback API', () => {
    test('the facts and admin API work without a key, and the node says so', async () => {
      const created = await call<{ id: string }>(api(open, '/v1/facts'), {
        method: 'POST',
        body: fact('test:open'),
      });
      assert.equal(created.status, 201);
      const list = await call<{ total: number }>(api(open, '/v1/facts?entity=test:open'));
      assert.equal(list.status, 200);
      assert.equal(list.body.total, 1);
      assert.equal((await call(api(open, '/v1/admin/peers'))).status, 200);
      const info = await call<{ auth: unknown }>(api(open, '/.well-known/tessera'));
      assert.deepEqual(info.body.auth, { api_keys: false });
    });
  });
});
