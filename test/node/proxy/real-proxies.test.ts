// Proxy-terminated mTLS with real proxies in front of real nodes: nginx terminating the client's mTLS and
// forwarding the certificate as X-Forwarded-Client-Cert ($ssl_client_escaped_cert) to the API listener over
// plain HTTP, and HAProxy forwarding it as RFC 9440 Client-Cert (ssl_c_der,base64) to the federation
// listener over mTLS with its own certificate (TESSERA_TRUSTED_PROXY_IDENTITIES). A good client is admitted
// with its own identity; spoofed headers from a direct client and from an untrusted address are removed
// and counted; a certificate from another CA is refused (cert_untrusted); the federation token binding
// holds against the forwarded identity, never the proxy's.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Agent, request } from 'undici';
import type { Feature } from '../../../src/node/app/feature.ts';
import { thumbprintOfPem } from '../../../src/node/features/auth/cert-binding.ts';
import type { IssuedCertificate } from '../../../src/pki/certificate.ts';
import { pemCertificatesToDer } from '../../../src/tls/x509.ts';
import { counterValue } from '../../support/metrics.ts';
import { createTestCa, type TestCa, tempDir, testUri } from '../../support/pki.ts';
import { freePort } from '../../support/private-server.ts';
import { proxyBinary, type RunningProxy, startHaproxy, startNginx } from '../../support/proxies.ts';
import { startTlsNode, type TlsNode } from '../../support/tls-node.ts';

type Whoami = { uris: string[] | null; clientIp: string; forwarded: Record<string, string | null> };

/** Echoes what the node made of the request: the peer identity, the client address, forwarded headers left. */
const whoami: Feature = {
  name: 'test-whoami',
  api: async (app) => {
    app.get('/test/whoami', { config: { access: 'open' } }, async (request) => echo(request));
  },
  federation: async (app) => {
    app.get('/test/whoami', { config: { access: 'open' } }, async (request) => echo(request));
  },
};

function echo(request: import('fastify').FastifyRequest): Whoami {
  const header = (name: string) => (request.headers[name] as string | undefined) ?? null;
  return {
    uris: request.peer?.uris ?? null,
    clientIp: request.clientIp,
    forwarded: {
      xfcc: header('x-forwarded-client-cert'),
      clientCert: header('client-cert'),
    },
  };
}

interface CallOptions {
  cert?: IssuedCertificate;
  ca: string;
  localAddress?: string;
  headers?: Record<string, string>;
}

async function call<T>(url: string, options: CallOptions): Promise<{ status: number; body: T }> {
  const dispatcher = new Agent({
    ...(options.localAddress ? { localAddress: options.localAddress } : {}),
    connect: {
      ca: options.ca,
      ...(options.cert ? { cert: options.cert.chainPem, key: options.cert.keyPem } : {}),
      checkServerIdentity: () => undefined,
    },
  });
  try {
    const response = await request(url, { dispatcher, headers: options.headers ?? {} });
    const text = await response.body.text();
    return { status: response.statusCode, body: (text ? JSON.parse(text) : null) as T };
  } finally {
    await dispatcher.close();
  }
}

const rejections = (node: TlsNode, reason: string) =>
  counterValue(node.node.metrics, 'tessera_tls_handshake_rejections_total', { side: 'server', reason });

const xfccOf = (cert: IssuedCertificate) => `Cert="${encodeURIComponent(cert.certPem)}"`;
const clientCertOf = (cert: IssuedCertificate) =>
  `:${(pemCertificatesToDer(cert.certPem)[0] as Buffer).toString('base64')}:`;

/** An unsigned JWT naming `iss`: enough to reach the token-binding check, which reads only the claim. */
const tokenClaiming = (iss: string) =>
  `${Buffer.from('{"alg":"EdDSA"}').toString('base64url')}.${Buffer.from(JSON.stringify({ iss })).toString('base64url')}.c2ln`;

let ca: TestCa;
let otherCa: TestCa;
let client: IssuedCertificate;
let stranger: IssuedCertificate;
let admin: IssuedCertificate;
let proxyCert: IssuedCertificate;
let dir: string;

before(async () => {
  ca = await createTestCa('Proxy test CA');
  otherCa = await createTestCa('Other CA');
  client = await ca.issue('client');
  admin = await ca.issue('admin');
  stranger = await otherCa.issue('client');
  proxyCert = await ca.issue('proxy');
  dir = await mkdtemp(join(tmpdir(), 'tessera-proxies-'));
  await writeFile(join(dir, 'ca.pem'), ca.certPem);
  // The proxies accept clients of both CAs (a misconfigured or broader proxy): the node must still refuse.
  await writeFile(join(dir, 'clients-ca.pem'), ca.certPem + otherCa.certPem);
  await writeFile(join(dir, 'proxy.crt'), proxyCert.chainPem);
  await writeFile(join(dir, 'proxy.key'), proxyCert.keyPem, { mode: 0o600 });
  await writeFile(join(dir, 'proxy.pem'), proxyCert.chainPem + proxyCert.keyPem, { mode: 0o600 });
});

after(() => rm(dir, { recursive: true, force: true }));

const nginx = proxyBinary('nginx');
describe('nginx → API listener: X-Forwarded-Client-Cert', {
  ...('skip' in nginx ? { skip: nginx.skip } : {}),
}, () => {
  let node: TlsNode;
  let proxy: RunningProxy;
  let base: string;
  let direct: string;

  before(async () => {
    node = await startTlsNode({
      name: 'node-x',
      ca,
      root: dir,
      features: [whoami],
      env: { TESSERA_TRUSTED_PROXIES: '127.0.0.1', TESSERA_AUTH_FAILURES_PER_HOUR: '2' },
    });
    direct = node.node.apiUrl;
    const upstream = new URL(direct).host;
    const port = await freePort();
    const forward = [
      `proxy_pass http://${upstream};`,
      'proxy_set_header X-Forwarded-Client-Cert "Cert=\\"$ssl_client_escaped_cert\\"";',
      'proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;',
    ];
    proxy = await startNginx(
      'path' in nginx ? nginx.path : '',
      await tempDir({ after }, 'tessera-nginx-'),
      `
  server {
    listen 127.0.0.1:${port} ssl;
    ssl_certificate ${join(dir, 'proxy.crt')};
    ssl_certificate_key ${join(dir, 'proxy.key')};
    ssl_protocols TLSv1.3;
    ssl_client_certificate ${join(dir, 'clients-ca.pem')};
    ssl_verify_client on;
    location / { ${forward.join(' ')} }
    # The same proxy seen from an address the node does not trust.
    location /untrusted/ { proxy_bind 127.0.0.2; ${forward.join(' ').replace(`http://${upstream};`, `http://${upstream}/;`)} }
  }`,
      port,
    );
    base = `https://127.0.0.1:${port}`;
  });
  after(async () => {
    await proxy?.stop();
    await node?.close();
  });

  test('a good client through nginx is admitted with its own identity and address; its spoofed headers are overwritten', async () => {
    const response = await call<Whoami>(`${base}/test/whoami`, {
      ca: ca.certPem,
      cert: client,
      localAddress: '127.0.0.3',
      headers: { 'x-forwarded-client-cert': xfccOf(admin), 'x-forwarded-for': '203.0.113.9' },
    });
    assert.equal(response.status, 200);
    assert.deepEqual(response.body.uris, [testUri('client')]);
    assert.equal(response.body.clientIp, '127.0.0.3');
    assert.deepEqual(response.body.forwarded, { xfcc: null, clientCert: null });
  });

  test('a client certificate from another CA, forwarded by nginx, is refused: 403 forwarded_cert_rejected (cert_untrusted)', async () => {
    const before = await rejections(node, 'cert_untrusted');
    const response = await call<{ error: string; detail: string }>(`${base}/test/whoami`, {
      ca: ca.certPem,
      cert: stranger,
    });
    assert.equal(response.status, 403);
    assert.equal(response.body.error, 'forwarded_cert_rejected');
    assert.match(response.body.detail, /cert_untrusted/);
    assert.equal(await rejections(node, 'cert_untrusted'), before + 1);
  });

  test('the same header from an untrusted proxy address is removed and counted (forwarded_cert_untrusted_source)', async () => {
    const before = await rejections(node, 'forwarded_cert_untrusted_source');
    const response = await call<Whoami>(`${base}/untrusted/test/whoami`, { ca: ca.certPem, cert: client });
    assert.equal(response.status, 200);
    assert.deepEqual(response.body, {
      uris: null,
      clientIp: '127.0.0.2',
      forwarded: { xfcc: null, clientCert: null },
    });
    assert.equal(await rejections(node, 'forwarded_cert_untrusted_source'), before + 1);
  });

  test('a direct client (untrusted address) sending X-Forwarded-Client-Cert and X-Forwarded-For: removed, counted, its own address', async () => {
    const before = await rejections(node, 'forwarded_cert_untrusted_source');
    const response = await call<Whoami>(`${direct}/test/whoami`, {
      ca: ca.certPem,
      localAddress: '127.0.0.2',
      headers: {
        'x-forwarded-client-cert': xfccOf(client),
        'client-cert': clientCertOf(client),
        'x-forwarded-for': '127.0.0.9',
      },
    });
    assert.equal(response.status, 200);
    assert.deepEqual(response.body, {
      uris: null,
      clientIp: '127.0.0.2',
      forwarded: { xfcc: null, clientCert: null },
    });
    assert.equal(await rejections(node, 'forwarded_cert_untrusted_source'), before + 1);
  });

  test('a malformed header from a trusted address: 400 forwarded_cert_invalid naming what is wrong', async () => {
    const before = await rejections(node, 'forwarded_cert_malformed');
    for (const [value, what] of [
      ['Cert="%ZZ"', 'bad_percent_encoding'],
      ['Cert="-----BEGIN CERTIFICATE-----@@-----END CERTIFICATE-----"', 'bad_base64'],
      ['Hash=00;URI=x', 'syntax'],
    ] as const) {
      const response = await call<{ error: string; detail: string }>(`${direct}/test/whoami`, {
        ca: ca.certPem,
        headers: { 'x-forwarded-client-cert': value },
      });
      assert.equal(response.status, 400, what);
      assert.equal(response.body.error, 'forwarded_cert_invalid');
      assert.match(response.body.detail, new RegExp(`^${what}: `));
    }
    assert.equal(await rejections(node, 'forwarded_cert_malformed'), before + 3);
    // A header past Node's header limit never reaches the hook: Node answers 431 itself.
    const huge = await call(`${direct}/test/whoami`, {
      ca: ca.certPem,
      headers: { 'x-forwarded-client-cert': `Cert="${'A'.repeat(70_000)}"` },
    });
    assert.equal(huge.status, 431);
  });

  test('an API key bound to a client certificate works with it through nginx and is refused without it', async () => {
    const created = await node.api<{ key: string; cnf: { 'x5t#S256': string } }>(
      'POST',
      '/v1/admin/api-keys',
      {
        entity_uri: 'urn:test:bound-reader',
        permissions: ['read'],
        cnf: { 'x5t#S256': thumbprintOfPem(client.certPem) },
      },
    );
    assert.equal(created.body.cnf['x5t#S256'], thumbprintOfPem(client.certPem));
    const read = (target: string, options: Partial<CallOptions>) =>
      call<{ error?: string }>(`${target}/v1/facts`, {
        ca: ca.certPem,
        ...options,
        headers: { ...options.headers, authorization: `Bearer ${created.body.key}` },
      });
    assert.equal((await read(base, { cert: client, localAddress: '127.0.0.7' })).status, 200);
    const otherCert = await read(base, { cert: admin, localAddress: '127.0.0.8' });
    assert.deepEqual([otherCert.status, otherCert.body.error], [401, 'certificate_binding_mismatch']);
    const noCert = await read(direct, { localAddress: '127.0.0.9' });
    assert.deepEqual([noCert.status, noCert.body.error], [401, 'certificate_binding_mismatch']);
    const spoofed = await read(direct, {
      localAddress: '127.0.0.10',
      headers: { 'x-forwarded-client-cert': xfccOf(client) },
    });
    assert.equal(spoofed.status, 401, 'a forwarded certificate from an untrusted address binds nothing');
  });

  test('a capability bound to a client certificate verifies only on a request presenting it', async () => {
    const issued = await node.api<{ token: string; cnf: { 'x5t#S256': string } }>(
      'POST',
      '/v1/capabilities',
      {
        subject: testUri('client'),
        verb: 'read',
        object: 'facts:ops',
        cnf: { 'x5t#S256': thumbprintOfPem(client.certPem) },
      },
    );
    assert.equal(issued.status, 201);
    const verify = async (target: string, cert?: IssuedCertificate) => {
      const dispatcher = new Agent({
        connect: {
          ca: ca.certPem,
          ...(cert ? { cert: cert.chainPem, key: cert.keyPem } : {}),
          checkServerIdentity: () => undefined,
        },
      });
      try {
        const response = await request(`${target}/v1/capabilities/verify`, {
          dispatcher,
          method: 'POST',
          headers: { authorization: `Bearer ${node.identity.apiKey}`, 'content-type': 'application/json' },
          body: JSON.stringify({ token: issued.body.token }),
        });
        return (await response.body.json()) as { valid: boolean; reason?: string };
      } finally {
        await dispatcher.close();
      }
    };
    assert.deepEqual(await verify(base, client).then((v) => v.valid), true);
    assert.equal((await verify(base, admin)).reason, 'certificate_binding_mismatch');
    assert.equal((await verify(direct)).reason, 'certificate_binding_mismatch');
  });

  test('failed authentications are limited per client address behind nginx, not per proxy', async () => {
    const failWith = async (localAddress: string) =>
      (
        await call(`${base}/v1/facts`, {
          ca: ca.certPem,
          cert: client,
          localAddress,
          headers: { authorization: 'Bearer tsk_nope_nope' },
        })
      ).status;
    assert.equal(await failWith('127.0.0.5'), 401);
    assert.equal(await failWith('127.0.0.5'), 401);
    assert.equal(await failWith('127.0.0.5'), 429);
    assert.equal(await failWith('127.0.0.6'), 401, 'another client behind the same proxy is not locked out');
  });
});

describe('nginx → federation listener over mTLS (proxy_ssl_certificate): X-Forwarded-Client-Cert', {
  ...('skip' in nginx ? { skip: nginx.skip } : {}),
}, () => {
  let node: TlsNode;
  let proxy: RunningProxy;
  let base: string;

  before(async () => {
    node = await startTlsNode({
      name: 'node-xf',
      ca,
      root: dir,
      features: [whoami],
      env: { TESSERA_TRUSTED_PROXIES: '127.0.0.1', TESSERA_TRUSTED_PROXY_IDENTITIES: testUri('proxy') },
    });
    const port = await freePort();
    proxy = await startNginx(
      'path' in nginx ? nginx.path : '',
      await tempDir({ after }, 'tessera-nginx-fed-'),
      `
  server {
    listen 127.0.0.1:${port} ssl;
    ssl_certificate ${join(dir, 'proxy.crt')};
    ssl_certificate_key ${join(dir, 'proxy.key')};
    ssl_protocols TLSv1.3;
    ssl_client_certificate ${join(dir, 'clients-ca.pem')};
    ssl_verify_client on;
    location / {
      proxy_pass ${node.node.federationUrl};
      proxy_ssl_certificate ${join(dir, 'proxy.crt')};
      proxy_ssl_certificate_key ${join(dir, 'proxy.key')};
      proxy_ssl_trusted_certificate ${join(dir, 'ca.pem')};
      proxy_ssl_verify on;
      proxy_ssl_name localhost;
      proxy_ssl_protocols TLSv1.3;
      proxy_set_header X-Forwarded-Client-Cert "Cert=\\"$ssl_client_escaped_cert\\"";
    }
  }`,
      port,
    );
    base = `https://127.0.0.1:${port}`;
  });
  after(async () => {
    await proxy?.stop();
    await node?.close();
  });

  test('the client behind nginx is the peer on the federation listener; another CA is refused', async () => {
    const good = await call<Whoami>(`${base}/test/whoami`, { ca: ca.certPem, cert: client });
    assert.equal(good.status, 200);
    assert.deepEqual(good.body.uris, [testUri('client')]);
    const before = await rejections(node, 'cert_untrusted');
    const other = await call<{ error: string }>(`${base}/test/whoami`, { ca: ca.certPem, cert: stranger });
    assert.deepEqual([other.status, other.body.error], [403, 'forwarded_cert_rejected']);
    assert.equal(await rejections(node, 'cert_untrusted'), before + 1);
  });
});

const haproxy = proxyBinary('haproxy');
describe('HAProxy → federation listener over mTLS: RFC 9440 Client-Cert', {
  ...('skip' in haproxy ? { skip: haproxy.skip } : {}),
}, () => {
  let node: TlsNode;
  let proxy: RunningProxy;
  let base: string;
  let direct: string;

  before(async () => {
    node = await startTlsNode({
      name: 'node-h',
      ca,
      root: dir,
      features: [whoami],
      env: {
        TESSERA_TRUSTED_PROXIES: '127.0.0.0/8',
        TESSERA_TRUSTED_PROXY_IDENTITIES: testUri('proxy'),
        TESSERA_FORWARDED_CERT_HEADER: 'client-cert',
      },
    });
    direct = node.node.federationUrl;
    const port = await freePort();
    proxy = await startHaproxy(
      'path' in haproxy ? haproxy.path : '',
      await tempDir({ after }, 'tessera-haproxy-'),
      `
defaults
  mode http
  timeout connect 5s
  timeout client 30s
  timeout server 30s

frontend clients
  bind 127.0.0.1:${port} ssl crt ${join(dir, 'proxy.pem')} ca-file ${join(dir, 'clients-ca.pem')} verify required ssl-min-ver TLSv1.3
  http-request del-header Client-Cert-Chain
  http-request set-header Client-Cert :%[ssl_c_der,base64]:
  default_backend node

backend node
  server node ${new URL(direct).host} ssl crt ${join(dir, 'proxy.pem')} ca-file ${join(dir, 'ca.pem')} verify required ssl-min-ver TLSv1.3
`,
      port,
    );
    base = `https://127.0.0.1:${port}`;
  });
  after(async () => {
    await proxy?.stop();
    await node?.close();
  });

  test("a good client through HAProxy is admitted with its own identity, not the proxy's; a spoofed Client-Cert is overwritten", async () => {
    const response = await call<Whoami>(`${base}/test/whoami`, {
      ca: ca.certPem,
      cert: client,
      headers: { 'client-cert': clientCertOf(admin) },
    });
    assert.equal(response.status, 200);
    assert.deepEqual(response.body.uris, [testUri('client')]);
    assert.deepEqual(response.body.forwarded, { xfcc: null, clientCert: null });
  });

  test('a client certificate from another CA, forwarded by HAProxy, is refused (cert_untrusted)', async () => {
    const before = await rejections(node, 'cert_untrusted');
    const response = await call<{ error: string }>(`${base}/test/whoami`, { ca: ca.certPem, cert: stranger });
    assert.equal(response.status, 403);
    assert.equal(response.body.error, 'forwarded_cert_rejected');
    assert.equal(await rejections(node, 'cert_untrusted'), before + 1);
  });

  test("a direct peer from a trusted address but without the proxy's identity: its Client-Cert is removed and counted", async () => {
    const before = await rejections(node, 'forwarded_cert_untrusted_source');
    const response = await call<Whoami>(`${direct}/test/whoami`, {
      ca: ca.certPem,
      cert: admin,
      headers: { 'client-cert': clientCertOf(client) },
    });
    assert.equal(response.status, 200);
    assert.deepEqual(response.body.uris, [testUri('admin')], 'its own certificate, nothing forwarded');
    assert.equal(response.body.forwarded.clientCert, null);
    assert.equal(await rejections(node, 'forwarded_cert_untrusted_source'), before + 1);
  });

  test('the federation token binding holds behind the proxy: against the forwarded identity, never the proxy', async () => {
    const asIssuer = (iss: string) =>
      call<{ error: string; detail: string }>(`${base}/v1/federation/facts`, {
        ca: ca.certPem,
        cert: client,
        headers: { authorization: `Bearer ${tokenClaiming(iss)}` },
      });
    const asProxy = await asIssuer(testUri('proxy'));
    assert.equal(asProxy.status, 401);
    assert.equal(asProxy.body.error, 'token_binding_mismatch');
    assert.match(asProxy.body.detail, new RegExp(testUri('client')));
    // Bound to the forwarded certificate, the token gets as far as the approval check.
    const asClient = await asIssuer(testUri('client'));
    assert.equal(asClient.status, 403);
    assert.equal(asClient.body.error, 'peer_not_approved');
  });
});
