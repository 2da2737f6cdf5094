// `tessera manifest verify` as a real child process: a manifest file on its own, and a node URL over real
// mTLS where the manifest must also be bound to the certificate; exit codes and messages.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { buildManifest, type SignedManifest } from '../../src/node/features/identity/manifest.ts';
import { loadOrCreateNodeKey, type NodeKey } from '../../src/node/features/identity/node-key.ts';
import { registerWellKnownRoutes } from '../../src/node/features/identity/well-known.ts';
import type { MaterialPaths } from '../../src/tls/material.ts';
import { createMtlsServer } from '../../src/transport/https-server.ts';
import { runCli } from '../support/child.ts';
import { createTestCa, DAY_MS, type TestCa, testUri, writeMaterial } from '../support/pki.ts';
import { openStaticCredentials, silentLogger } from '../support/tls-peers.ts';

describe('tessera manifest verify', () => {
  let ca: TestCa;
  let dir: string;
  let key: NodeKey;
  let client: MaterialPaths;
  const closers: (() => Promise<void>)[] = [];

  before(async () => {
    ca = await createTestCa();
    dir = await mkdtemp(join(tmpdir(), 'tessera-manifest-cli-'));
    closers.push(() => rm(dir, { recursive: true, force: true }));
    key = await loadOrCreateNodeKey({ dataDir: join(dir, 'node') });
    client = await writeMaterial(dir, 'client', await ca.issue('client'), ca.certPem);
  });
  after(async () => {
    for (const close of closers.reverse()) await close();
  });

  const manifestFor = (entityUri: string, now = new Date(), tlsSpkiSha256 = 'a'.repeat(64)) =>
    buildManifest({ nodeKey: key, entityUri, tlsSpkiSha256, now });

  async function file(name: string, content: unknown): Promise<string> {
    const path = join(dir, name);
    await writeFile(path, typeof content === 'string' ? content : JSON.stringify(content));
    return path;
  }

  /** An mTLS node holding a certificate for `certName` and serving the manifest `serve` builds. */
  async function startNode(certName: string, serve: (spki: string) => SignedManifest): Promise<string> {
    const paths = await writeMaterial(
      await mkdtemp(join(dir, `${certName}-`)),
      certName,
      await ca.issue(certName),
      ca.certPem,
    );
    const credentials = await openStaticCredentials(paths);
    const app = createMtlsServer({ credentials, authorize: () => ({ allow: true }), logger: silentLogger });
    registerWellKnownRoutes(app, {
      getInfo: () => assert.fail('not asked'),
      getManifest: () => serve(credentials.material.leaf.spkiSha256),
    });
    await app.listen({ host: '127.0.0.1', port: 0 });
    closers.push(async () => {
      await app.close();
      credentials.close();
    });
    return `https://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  }

  const tlsFlags = () => ['--cert', client.certPath, '--key', client.keyPath, '--ca', client.caPath];

  test('a valid file: exit 0 with entity_uri, key_id, fingerprint, validity and the verdict', async () => {
    const manifest = manifestFor(testUri('b'));
    const path = await file('good.json', manifest);
    const result = await runCli(['manifest', 'verify', path, '--expect-uri', testUri('b')]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stderr, '');
    assert.match(result.stdout, /^verdict\s+valid$/m);
    assert.match(result.stdout, new RegExp(`^entity_uri\\s+${testUri('b')}$`, 'm'));
    assert.match(result.stdout, new RegExp(`^key_id\\s+${key.keyId}$`, 'm'));
    assert.match(result.stdout, new RegExp(`^fingerprint\\s+${key.fingerprint}$`, 'm'));
    assert.match(result.stdout, /^validity\s+\S+ → \S+ \(expires in 2[34]h \d+m\)$/m);

    const json = await runCli(['manifest', 'verify', path, '--json']);
    assert.equal(json.code, 0, json.stderr);
    const parsed = JSON.parse(json.stdout);
    assert.equal(parsed.valid, true);
    assert.equal(parsed.fingerprint, key.fingerprint);
    assert.deepEqual(parsed.manifest, manifest);
  });

  test('a tampered, expired, unexpected or unreadable file: exit 1 with "tessera: <code>: <detail>"', async () => {
    const good = manifestFor(testUri('b'));
    const cases: [string, string[], RegExp][] = [
      [
        await file('tampered.json', { ...good, entity_uri: testUri('mallory') }),
        [],
        /^tessera: signature_invalid: the signature does not verify/m,
      ],
      [
        await file('expired.json', manifestFor(testUri('b'), new Date(Date.now() - 2 * DAY_MS))),
        [],
        /^tessera: manifest_expired: manifest expired at /m,
      ],
      [
        await file('other.json', good),
        ['--expect-uri', testUri('c')],
        /^tessera: entity_mismatch: .*node\/c/m,
      ],
      // (malformed documents are covered in depth by the manifest unit tests)
      [
        join(dir, 'missing.json'),
        [],
        /^tessera: manifest_unreadable: cannot read .*missing\.json \(ENOENT\)/m,
      ],
    ];
    // Independent processes: run them side by side.
    const [results, json] = await Promise.all([
      Promise.all(cases.map(([path, extra]) => runCli(['manifest', 'verify', path, ...extra]))),
      runCli(['manifest', 'verify', join(dir, 'tampered.json'), '--json']),
    ]);
    cases.forEach(([path, , message], i) => {
      const result = results[i] as Awaited<ReturnType<typeof runCli>>;
      assert.equal(result.code, 1, `${path}: ${result.stdout}${result.stderr}`);
      assert.match(result.stderr, message);
      assert.match(result.stdout, /^verdict\s+INVALID \(/m);
    });
    // A tampered manifest still shows what it claims, labelled as unverified.
    assert.match(results[0]?.stdout ?? '', /node\/mallory \(claimed, not verified\)/);
    const parsed = JSON.parse(json.stdout);
    assert.equal(parsed.valid, false);
    assert.equal(parsed.code, 'signature_invalid');
    assert.equal(parsed.manifest, undefined, 'unverified content is never under "manifest"');
    assert.equal(parsed.claimed.entity_uri, testUri('mallory'));
  });

  test('a URL over mTLS: exit 0 when the manifest is bound to the certificate, 1 when it is not', async () => {
    const [good, impostor, otherKey] = await Promise.all([
      startNode('b', (spki) => manifestFor(testUri('b'), new Date(), spki)),
      // A valid certificate for mallory, serving a validly signed manifest that claims to be d.
      startNode('mallory', (spki) => manifestFor(testUri('d'), new Date(), spki)),
      // e's certificate, but a manifest naming some other TLS key.
      startNode('e', () => manifestFor(testUri('e'), new Date(), 'b'.repeat(64))),
    ]);
    const [ok, refused, wrongKey] = await Promise.all([
      runCli(['manifest', 'verify', good, ...tlsFlags(), '--expect-uri', testUri('b')]),
      runCli(['manifest', 'verify', impostor, ...tlsFlags()]),
      runCli(['manifest', 'verify', otherKey, ...tlsFlags(), '--json']),
    ]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /^verdict\s+valid$/m);
    assert.match(ok.stdout, /^tls\s+certificate URI SAN = entity_uri, certificate key = tls_spki_sha256$/m);
    assert.match(ok.stdout, new RegExp(`^source\\s+${good}$`, 'm'));

    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /^tessera: tls_identity_mismatch: .*node\/mallory.*node\/d/m);

    assert.equal(wrongKey.code, 1);
    assert.match(wrongKey.stderr, /^tessera: tls_key_mismatch: /m);
    assert.equal(JSON.parse(wrongKey.stdout).code, 'tls_key_mismatch');
  });

  test('usage: an https URL without our TLS material exits 2; plain http needs --insecure', async () => {
    const [usage, http] = await Promise.all([
      runCli(['manifest', 'verify', 'https://127.0.0.1:1']),
      runCli(['manifest', 'verify', 'http://127.0.0.1:1']),
    ]);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /needs --cert, --key and --ca/);
    assert.equal(http.code, 1);
    assert.match(http.stderr, /^tessera: insecure_transport_refused: /m);
  });
});
