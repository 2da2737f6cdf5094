// Fetching a peer's manifest over real mutual TLS: the manifest must verify AND be bound to the certificate
// of the connection it arrived on (URI SAN = entity_uri, SPKI = tls_spki_sha256). Real fastify servers on
// loopback, certificates from a throwaway CA.
import assert from 'node:assert/strict';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import Fastify from 'fastify';
import { HttpsPeerTransport } from '../../../src/node/features/federation/https/https-peer-transport.ts';
import { fetchPeerManifest } from '../../../src/node/features/identity/fetch-manifest.ts';
import {
  buildManifest,
  ManifestError,
  type SignedManifest,
} from '../../../src/node/features/identity/manifest.ts';
import { loadOrCreateNodeKey, type NodeKey } from '../../../src/node/features/identity/node-key.ts';
import { ManifestSigner, registerWellKnownRoutes } from '../../../src/node/features/identity/well-known.ts';
import type { IssuedCertificate } from '../../../src/pki/certificate.ts';
import type { CredentialSource } from '../../../src/tls/credential-source.ts';
import type { PemMaterial } from '../../../src/tls/policy.ts';
import { serverTlsOptions } from '../../../src/tls/policy.ts';
import { createMtlsServer } from '../../../src/transport/https-server.ts';
import {
  createTestCa,
  DAY_MS,
  pemOf,
  type TestCa,
  tempDir,
  testUri,
  writeMaterial,
} from '../../support/pki.ts';
import { openStaticCredentials, silentLogger } from '../../support/tls-peers.ts';

/** The node's way: the HTTPS peer transport, then the transport-independent verification. */
function fetchOverHttps(
  url: string,
  options: { credentials?: { material: PemMaterial }; insecure?: boolean; expectedEntityUri?: string },
) {
  const transport = new HttpsPeerTransport({
    credentials: options.credentials ?? null,
    insecure: options.insecure === true,
  });
  return fetchPeerManifest(transport, url, {
    ...(options.expectedEntityUri ? { expectedEntityUri: options.expectedEntityUri } : {}),
  });
}

interface Peer {
  url: string;
  credentials: CredentialSource;
  key: NodeKey;
  requests: number;
}

async function expectCode(promise: Promise<unknown>, code: string): Promise<ManifestError> {
  const error = await promise.then(
    () => assert.fail(`expected ${code}, but the manifest was accepted`),
    (e: unknown) => e,
  );
  assert.ok(error instanceof ManifestError, `expected ManifestError, got ${String(error)}`);
  assert.equal(error.code, code, error.message);
  return error;
}

describe('fetchPeerManifest over mTLS', () => {
  let ca: TestCa;
  let client: CredentialSource;
  const closers: (() => Promise<void>)[] = [];

  const open = async (name: string, leaf = ca.issue(name), caPem = ca.certPem) => {
    const paths = await writeMaterial(await tempDir({ after }), name, await leaf, caPem);
    const source = await openStaticCredentials(paths);
    closers.push(async () => source.close());
    return source;
  };

  /**
   * A peer's federation listener: certificate for `certName`, serving the manifest `serve` returns
   * (default: its own, correctly signed and bound, through ManifestSigner and the well-known routes).
   */
  async function startPeer(
    certName: string,
    serve?: (ctx: { credentials: CredentialSource; key: NodeKey }) => SignedManifest,
  ): Promise<Peer> {
    const credentials = await open(certName);
    const key = await loadOrCreateNodeKey({ dataDir: await tempDir({ after }) });
    const app = createMtlsServer({ credentials, authorize: () => ({ allow: true }), logger: silentLogger });
    const signer = new ManifestSigner({ nodeKey: key, entityUri: testUri(certName), credentials });
    const peer: Peer = { url: '', credentials, key, requests: 0 };
    app.addHook('onRequest', async () => {
      peer.requests++;
    });
    registerWellKnownRoutes(app, {
      getInfo: () => ({
        version: '0.1.0',
        entity_uri: testUri(certName),
        node_url: peer.url,
        federation_url: peer.url,
        auth: { api_keys: true },
        federation: { transport: 'mtls', token: 'EdDSA-JWT' },
        public_key: key.publicKeyB64,
        key_id: key.keyId,
      }),
      getManifest: () => (serve ? serve({ credentials, key }) : signer.manifest()),
    });
    await app.listen({ host: '127.0.0.1', port: 0 });
    closers.push(async () => {
      signer.close();
      await app.close();
    });
    peer.url = `https://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    return peer;
  }

  before(async () => {
    ca = await createTestCa();
    client = await open('a');
  });
  after(async () => {
    for (const close of closers.reverse()) await close();
  });

  test('a correctly bound manifest is returned with the identity of the certificate it came over', async () => {
    const b = await startPeer('b');
    const { manifest, tlsIdentity } = await fetchOverHttps(b.url, { credentials: client });
    assert.equal(manifest.entity_uri, testUri('b'));
    assert.equal(manifest.key_id, b.key.keyId);
    assert.equal(manifest.public_key, b.key.publicKeyB64);
    assert.ok(tlsIdentity);
    assert.deepEqual(tlsIdentity.uris, [testUri('b')]);
    assert.equal(tlsIdentity.spkiSha256, b.credentials.material.leaf.spkiSha256);
    assert.equal(manifest.tls_spki_sha256, tlsIdentity.spkiSha256);
    // And the caller's expectation is applied.
    await fetchOverHttps(b.url, { credentials: client, expectedEntityUri: testUri('b') });
    await expectCode(
      fetchOverHttps(b.url, { credentials: client, expectedEntityUri: testUri('c') }),
      'entity_mismatch',
    );
  });

  test('a certificate whose URI SAN differs from the manifest entity_uri → tls_identity_mismatch naming both', async () => {
    // Mallory holds a valid certificate of the same CA, and serves a validly signed manifest claiming to be d.
    const mallory = await startPeer('mallory', ({ credentials, key }) =>
      buildManifest({
        nodeKey: key,
        entityUri: testUri('d'),
        tlsSpkiSha256: credentials.material.leaf.spkiSha256,
        now: new Date(),
      }),
    );
    const error = await expectCode(
      fetchOverHttps(mallory.url, { credentials: client }),
      'tls_identity_mismatch',
    );
    assert.match(error.message, /node\/mallory/);
    assert.match(error.message, /node\/d/);
  });

  test("a manifest naming another TLS key → tls_key_mismatch (someone else's manifest replayed)", async () => {
    const other = await open('b2', ca.issue('b2', { uris: [testUri('e')] }));
    const e = await startPeer('e', ({ key }) =>
      buildManifest({
        nodeKey: key,
        entityUri: testUri('e'),
        tlsSpkiSha256: other.material.leaf.spkiSha256,
        now: new Date(),
      }),
    );
    const error = await expectCode(fetchOverHttps(e.url, { credentials: client }), 'tls_key_mismatch');
    assert.match(error.message, new RegExp(e.credentials.material.leaf.spkiSha256));
    assert.match(error.message, new RegExp(other.material.leaf.spkiSha256));
  });

  test('the manifest itself must verify: an expired one → manifest_expired', async () => {
    const f = await startPeer('f', ({ credentials, key }) =>
      buildManifest({
        nodeKey: key,
        entityUri: testUri('f'),
        tlsSpkiSha256: credentials.material.leaf.spkiSha256,
        now: new Date(Date.now() - 2 * DAY_MS),
      }),
    );
    await expectCode(fetchOverHttps(f.url, { credentials: client }), 'manifest_expired');
  });

  /** A bare HTTPS server under our TLS policy with any certificate at all (no material checks). */
  async function startRaw(
    leaf: IssuedCertificate,
    caPem = ca.certPem,
  ): Promise<{ url: string; requests(): number }> {
    let requests = 0;
    const server = createHttpsServer(serverTlsOptions(pemOf(leaf, caPem)), (_req, res) => {
      requests++;
      res.end('{}');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    closers.push(() => new Promise((resolve) => server.close(() => resolve())));
    return { url: `https://127.0.0.1:${(server.address() as AddressInfo).port}`, requests: () => requests };
  }

  test('a server certificate we cannot accept → tls_certificate_rejected, before any request byte', async () => {
    const otherCa = await createTestCa('Other CA');
    const cases: [string, IssuedCertificate, string, RegExp][] = [
      ['another CA', await otherCa.issue('g'), otherCa.certPem, /SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY/],
      [
        'no serverAuth EKU',
        await ca.issue('h', { extendedKeyUsages: ['clientAuth'] }),
        ca.certPem,
        /INVALID_PURPOSE/,
      ],
      [
        'expired',
        await ca.issue('i', {
          notBefore: new Date(Date.now() - 10 * DAY_MS),
          notAfter: new Date(Date.now() - DAY_MS),
        }),
        ca.certPem,
        /CERT_HAS_EXPIRED|expired/i,
      ],
    ];
    for (const [what, leaf, caPem, reason] of cases) {
      const server = await startRaw(leaf, caPem);
      const error = await expectCode(
        fetchOverHttps(server.url, { credentials: client }),
        'tls_certificate_rejected',
      );
      assert.match(error.message, reason, what);
      assert.match(error.message, /127\.0\.0\.1/, what);
      assert.equal(server.requests(), 0, `${what}: no request reached the server`);
    }
  });

  test('http:// is refused unless insecure dev mode is explicit; then there is no TLS identity', async () => {
    const key = await loadOrCreateNodeKey({ dataDir: await tempDir({ after }) });
    const signer = new ManifestSigner({ nodeKey: key, entityUri: testUri('dev') });
    const app = Fastify();
    registerWellKnownRoutes(app, {
      getInfo: () => assert.fail('not asked'),
      getManifest: () => signer.manifest(),
    });
    await app.listen({ host: '127.0.0.1', port: 0 });
    closers.push(() => app.close());
    const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    await expectCode(fetchOverHttps(url, { credentials: client }), 'insecure_transport_refused');
    const { manifest, tlsIdentity } = await fetchOverHttps(url, { insecure: true });
    assert.equal(manifest.entity_uri, testUri('dev'));
    assert.equal(manifest.tls_spki_sha256, '', 'no TLS key to name');
    assert.equal(tlsIdentity, null);
    await expectCode(fetchOverHttps('ftp://127.0.0.1/', { insecure: true }), 'manifest_fetch_failed');
  });

  test('nothing listening → peer_unreachable; a non-manifest answer → manifest_malformed', async () => {
    const app = Fastify();
    await app.listen({ host: '127.0.0.1', port: 0 });
    const port = (app.server.address() as AddressInfo).port;
    await app.close();
    await expectCode(
      fetchOverHttps(`https://127.0.0.1:${port}`, { credentials: client }),
      'peer_unreachable',
    );

    const junk = await startPeer('junk', () => ({ hello: 'world' }) as unknown as SignedManifest);
    await expectCode(fetchOverHttps(junk.url, { credentials: client }), 'manifest_malformed');
  });
});
