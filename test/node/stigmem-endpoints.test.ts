// The Stigmem documents' endpoints on a real `tessera serve` process: `curl --cert … https://node:8765/healthz`
// (their own check, run literally) answers {"status":"ok"} on the federation listener to any client that
// passed the mTLS handshake, without a peer token; /readyz likewise; a client without a certificate gets no
// HTTP at all. /.well-known/stigmem-manifest.json serves the signed manifest, whose tls_cert_fingerprint is
// what `openssl x509 -noout -fingerprint -sha256` prints for the served certificate, and follows a reload.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { request } from 'undici';
import { type SignedManifest, verifyManifest } from '../../src/node/features/identity/manifest.ts';
import { federationGet, type NodeProcess, startNodeProcess } from '../support/node-process.ts';
import { openssl } from '../support/openssl.ts';
import { createTestCa, type TestCa, testUri, writeMaterial } from '../support/pki.ts';
import { until } from '../support/reload.ts';
import { curl } from '../support/shell.ts';

/** `sha256 Fingerprint=AB:CD:…` as openssl prints it for a certificate file: the part after `=`. */
async function opensslPrinted(certPath: string): Promise<string> {
  const { stdout } = await openssl(['x509', '-in', certPath, '-noout', '-fingerprint', '-sha256']);
  const match = /^sha256 Fingerprint=([0-9A-F:]+)$/m.exec(stdout);
  assert.ok(match, stdout);
  return match[1] as string;
}

describe('Stigmem endpoints on a node', () => {
  let ca: TestCa;
  let root: string;
  let node: NodeProcess;
  let port: string;
  let stranger: { certPath: string; keyPath: string; caPath: string };

  before(async () => {
    ca = await createTestCa();
    root = await mkdtemp(join(tmpdir(), 'tessera-stigmem-endpoints-'));
    node = await startNodeProcess({ name: 'a', ca, root });
    port = new URL(node.federationUrl).port;
    // Any certificate of the federation CA: not a peer of this node, no token.
    stranger = await writeMaterial(
      join(root, 'a', 'tls'),
      'stranger',
      await ca.issue('stranger'),
      ca.certPem,
    );
  });
  after(async () => {
    await node?.stop();
    await rm(root, { recursive: true, force: true });
  });

  test('the seed\'s curl: GET /healthz on the federation port over mTLS → {"status":"ok"}', async () => {
    // `--resolve localhost:PORT:127.0.0.1`: the test leaf's DNS SAN is localhost (curl checks the host name).
    const result = await curl([
      '-s',
      '--cacert',
      stranger.caPath,
      '--cert',
      stranger.certPath,
      '--key',
      stranger.keyPath,
      '--resolve',
      `localhost:${port}:127.0.0.1`,
      `https://localhost:${port}/healthz`,
    ]);
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(JSON.parse(result.stdout), { status: 'ok' });
  });

  test('/healthz and /readyz: any client past the handshake, no peer token; none without a certificate', async () => {
    const health = await federationGet(node, stranger, undefined, '/healthz');
    assert.deepEqual([health.status, health.body], [200, { status: 'ok' }]);
    const ready = await federationGet(node, stranger, undefined, '/readyz');
    assert.equal(ready.status, 200);
    assert.deepEqual(ready.body, { status: 'ok', checks: { store: 'ok', tls: 'ok' } });
    const anonymous = await curl(['-s', '--cacert', stranger.caPath, `https://127.0.0.1:${port}/healthz`]);
    assert.notEqual(anonymous.code, 0, 'no client certificate: the handshake fails, no HTTP response');
    assert.equal(anonymous.stdout, '');
    const plaintext = await curl(['-s', `http://127.0.0.1:${port}/healthz`]);
    assert.notEqual(plaintext.code, 0, 'plaintext: no HTTP 200');
  });

  test('/.well-known/stigmem-manifest.json: the signed manifest with the served certificate fingerprint', async () => {
    const stigmem = await federationGet(node, stranger, undefined, '/.well-known/stigmem-manifest.json');
    assert.equal(stigmem.status, 200);
    const manifest = verifyManifest(stigmem.body, { now: new Date(), expectedEntityUri: testUri('a') });
    assert.equal(manifest.tls_cert_fingerprint, await opensslPrinted(node.tls.certPath));
    const ours = await federationGet(node, stranger, undefined, '/.well-known/tessera-manifest.json');
    assert.deepEqual(ours.body, stigmem.body, 'the same document under both names');
    const onApi = await request(new URL('/.well-known/stigmem-manifest.json', node.apiUrl));
    assert.equal(
      ((await onApi.body.json()) as SignedManifest).tls_cert_fingerprint,
      manifest.tls_cert_fingerprint,
    );
  });

  test('a new certificate (SIGHUP) → the manifest is re-signed with its fingerprint', async () => {
    const before = (await federationGet(node, stranger, undefined, '/.well-known/stigmem-manifest.json'))
      .body as SignedManifest;
    await writeMaterial(join(root, 'a', 'tls'), 'node', await ca.issue('a'), ca.certPem);
    const expected = await opensslPrinted(node.tls.certPath);
    assert.notEqual(expected, before.tls_cert_fingerprint);
    node.proc.child.kill('SIGHUP');
    const after = await until('the re-signed manifest', async () => {
      const body = (await federationGet(node, stranger, undefined, '/.well-known/stigmem-manifest.json'))
        .body as SignedManifest;
      return body.tls_cert_fingerprint === expected ? body : undefined;
    });
    verifyManifest(after, { now: new Date() });
  });
});
