// Library-level checks of init-ca / issue / dev: every bad input is refused with its code, before any key
// is generated or any file appears. (The CLI tests repeat the important ones through a real process.)
import assert from 'node:assert/strict';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { initCa, loadCa } from '../../src/pki/ca.ts';
import { buildCertificate } from '../../src/pki/certificate.ts';
import { createDevPki } from '../../src/pki/dev.ts';
import { PkiError, type PkiErrorCode } from '../../src/pki/errors.ts';
import { type IssueLeafOptions, issueLeaf } from '../../src/pki/issue.ts';
import { parseCertificate, pemCertificatesToDer } from '../../src/tls/x509.ts';
import { tempDir } from '../support/pki.ts';

const DAY_MS = 86_400_000;

function rejectsWith(code: PkiErrorCode, pattern: RegExp) {
  return (error: unknown) => {
    assert.ok(error instanceof PkiError, `expected PkiError, got ${String(error)}`);
    assert.equal(error.code, code);
    assert.match(error.message, pattern);
    return true;
  };
}

test('initCa writes a CA with the requested name, lifetime and algorithm; loadCa reads it back', async (t) => {
  const dir = join(await tempDir(t), 'nested', 'ca');
  const now = new Date('2030-01-01T00:00:00Z');
  const { certPath, keyPath } = await initCa({ dir, name: 'Acme Root', algo: 'ed25519', days: 10, now });
  const ca = await loadCa(dir);
  const info = parseCertificate(pemCertificatesToDer(ca.certPem)[0]!);
  assert.equal(info.subject, 'CN=Acme Root');
  assert.equal(info.isCa, true);
  assert.equal(info.publicKeyAlgorithm, 'Ed25519');
  assert.equal(info.notAfter.getTime(), now.getTime() + 10 * DAY_MS);
  assert.equal((await stat(keyPath)).mode & 0o777, 0o600);
  assert.equal(await readFile(certPath, 'utf8'), ca.certPem);
});

test('initCa refuses to replace a CA unless forced, and validates before writing', async (t) => {
  const dir = await tempDir(t);
  await initCa({ dir });
  const before = await readFile(join(dir, 'ca.key'));
  await assert.rejects(initCa({ dir }), rejectsWith('PKI_EXISTS', /ca\.key already exists.*--force/));
  assert.deepEqual(await readFile(join(dir, 'ca.key')), before);
  await initCa({ dir, force: true });
  assert.notDeepEqual(await readFile(join(dir, 'ca.key')), before);

  const fresh = await tempDir(t);
  await assert.rejects(initCa({ dir: fresh, days: 0 }), rejectsWith('PKI_INVALID_DAYS', /days/));
  await assert.rejects(initCa({ dir: fresh, name: 'a\nb' }), rejectsWith('PKI_INVALID_NAME', /CA name/));
  await assert.rejects(initCa({ dir: fresh, algo: 'rsa' as 'p256' }), rejectsWith('PKI_INVALID_ALGO', /rsa/));
  assert.deepEqual(await readdir(fresh), []);
});

test('loadCa names the missing file and refuses a non-CA or a mismatched key', async (t) => {
  const dir = await tempDir(t);
  await assert.rejects(loadCa(dir), rejectsWith('PKI_CA_NOT_FOUND', /ca\.crt not found/));
  const leaf = await buildCertificate({ subjectCN: 'leaf' });
  await writeFile(join(dir, 'ca.crt'), leaf.certPem);
  await assert.rejects(loadCa(dir), rejectsWith('PKI_CA_NOT_FOUND', /ca\.key not found/));
  await writeFile(join(dir, 'ca.key'), leaf.keyPem);
  await assert.rejects(loadCa(dir), rejectsWith('PKI_CA_INVALID', /not a CA certificate/));
  const ca = await buildCertificate({ subjectCN: 'ca', isCa: true });
  await writeFile(join(dir, 'ca.crt'), ca.certPem);
  await assert.rejects(loadCa(dir), rejectsWith('PKI_CA_INVALID', /not the private key/));
});

test('issueLeaf refuses every bad argument before writing anything', async (t) => {
  const root = await tempDir(t);
  const caDir = join(root, 'ca');
  const now = new Date(Math.floor(Date.now() / 1000) * 1000);
  await initCa({ dir: caDir, days: 100, now });
  await writeFile(join(root, 'file.txt'), 'x');
  const out = join(root, 'out');
  const good: IssueLeafOptions = {
    caDir,
    outDir: out,
    name: 'n',
    uris: ['spiffe://example.org/node/n'],
    now,
  };
  const cases: [Partial<IssueLeafOptions>, PkiErrorCode, RegExp][] = [
    [{ name: '../n' }, 'PKI_INVALID_NAME', /"\.\.\/n"/],
    [{ name: '..' }, 'PKI_INVALID_NAME', /"\.\."/],
    [{ uris: [] }, 'PKI_INVALID_URI', /at least one URI/],
    [{ uris: ['not a uri'] }, 'PKI_INVALID_URI', /"not a uri"/],
    [{ uris: ['spiffe://a/b, URI:spiffe://a/admin'] }, 'PKI_INVALID_URI', /commas/],
    [{ uris: ['spiffe://a/b\u0000'] }, 'PKI_INVALID_URI', /control characters/],
    [{ uris: ['no-scheme/path'] }, 'PKI_INVALID_URI', /scheme/],
    [{ uris: ['spiffe://Example.org/x'] }, 'PKI_INVALID_URI', /trust domain/],
    [{ uris: ['spiffe://example.org/x?q=1'] }, 'PKI_INVALID_URI', /query/],
    [{ dnsNames: ['bad_host'] }, 'PKI_INVALID_DNS', /bad_host/],
    [{ dnsNames: ['a.*.example'] }, 'PKI_INVALID_DNS', /wildcard/],
    [{ ips: ['300.1.1.1'] }, 'PKI_INVALID_IP', /300\.1\.1\.1/],
    [{ days: 0 }, 'PKI_INVALID_DAYS', /days/],
    [{ days: 1.5 }, 'PKI_INVALID_DAYS', /days/],
    [{ days: 101 }, 'PKI_INVALID_DAYS', /outlive the CA.*--days 100 or fewer/],
    [{ caDir: join(root, 'missing') }, 'PKI_CA_NOT_FOUND', /missing\/ca\.crt/],
    [{ outDir: join(root, 'file.txt', 'sub') }, 'PKI_DIR_UNWRITABLE', /file\.txt\/sub.*not a directory/],
  ];
  for (const [override, code, pattern] of cases) {
    await assert.rejects(
      issueLeaf({ ...good, ...override }),
      rejectsWith(code, pattern),
      JSON.stringify(override),
    );
  }
  assert.deepEqual((await readdir(root)).sort(), ['ca', 'file.txt']);

  // Wildcards as a whole first label and IPv6 are fine, and a leaf may end exactly when its CA does.
  const ok = await issueLeaf({ ...good, dnsNames: ['*.example.org'], ips: ['::1'], days: 100 });
  assert.deepEqual((await readdir(out)).sort(), ['n.crt', 'n.key']);
  assert.match(ok.spkiSha256, /^[0-9a-f]{64}$/);
});

test('createDevPki: one CA, SPIFFE IDs per node; a second run reuses the CA', async (t) => {
  const out = await tempDir(t);
  const first = await createDevPki({ out, nodes: ['a', 'b'], trustDomain: 'corp.test' });
  assert.equal(first.caReused, false);
  assert.deepEqual(
    first.nodes.map((n) => n.uri),
    ['spiffe://corp.test/node/a', 'spiffe://corp.test/node/b'],
  );
  const caBefore = await readFile(join(out, 'ca.crt'), 'utf8');
  const second = await createDevPki({ out, nodes: ['c'], trustDomain: 'corp.test', algo: 'ed25519' });
  assert.equal(second.caReused, true);
  assert.equal(await readFile(join(out, 'ca.crt'), 'utf8'), caBefore);
  const chain = pemCertificatesToDer(await readFile(join(out, 'c.crt'), 'utf8')).map((der) =>
    parseCertificate(der),
  );
  assert.equal(chain.length, 1, 'the leaf only: the CA is in ca.crt, which every peer holds');
  assert.equal(chain[0]!.issuer, parseCertificate(pemCertificatesToDer(caBefore)[0]!).subject);
  assert.deepEqual(chain[0]!.uris, ['spiffe://corp.test/node/c']);
  assert.deepEqual((await readdir(out)).sort(), [
    'a.crt',
    'a.key',
    'b.crt',
    'b.key',
    'c.crt',
    'c.key',
    'ca.crt',
    'ca.key',
  ]);
});

test('createDevPki validates trust domain and node names before writing anything', async (t) => {
  const root = await tempDir(t);
  const out = join(root, 'dev');
  const cases: [Parameters<typeof createDevPki>[0], PkiErrorCode, RegExp][] = [
    [{ out, nodes: ['a'], trustDomain: 'Example.org' }, 'PKI_INVALID_TRUST_DOMAIN', /"Example\.org"/],
    [{ out, nodes: ['a'], trustDomain: 'a/b' }, 'PKI_INVALID_TRUST_DOMAIN', /"a\/b"/],
    [{ out, nodes: ['a', 'b/c'] }, 'PKI_INVALID_NAME', /"b\/c"/],
    [{ out, nodes: ['a', ''] }, 'PKI_INVALID_NAME', /""/],
    [{ out, nodes: ['a', 'a'] }, 'PKI_INVALID_NAME', /twice/],
    [{ out, nodes: ['ca'] }, 'PKI_INVALID_NAME', /reserved/],
    [{ out, nodes: [] }, 'PKI_INVALID_NAME', /at least one/],
    [{ out, nodes: ['a'], days: -1 }, 'PKI_INVALID_DAYS', /days/],
  ];
  for (const [opts, code, pattern] of cases) {
    await assert.rejects(createDevPki(opts), rejectsWith(code, pattern), JSON.stringify(opts));
  }
  assert.deepEqual(await readdir(root), []);
});
