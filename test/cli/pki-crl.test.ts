// `tessera pki crl` through a real child process: a CRL of the file-based CA revoking a certificate file
// and a serial, with --next-update; OpenSSL verifies its signature against the CA; the identity core loads
// it (the serials revoked); --merge keeps what the CRL already revoked; a certificate of another CA is
// refused (PKI_WRONG_ISSUER), and so is a malformed --next-update (usage error).
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { initCa } from '../../src/pki/ca.ts';
import { issueLeaf } from '../../src/pki/issue.ts';
import { loadCrls, readCrlFiles } from '../../src/tls/crl.ts';
import { parseCertificate, pemCertificatesToDer } from '../../src/tls/x509.ts';
import { runCli } from '../support/child.ts';
import { openssl } from '../support/openssl.ts';
import { tempDir } from '../support/pki.ts';

const serialIn = async (path: string) =>
  parseCertificate(pemCertificatesToDer(await readFile(path, 'utf8'))[0] as Buffer).serial;

test('pki crl revokes a certificate file and a serial; OpenSSL verifies it; the core loads it; --merge keeps entries', async (t) => {
  const dir = await tempDir(t);
  const caDir = join(dir, 'ca');
  const other = join(dir, 'other');
  await Promise.all([initCa({ dir: caDir, name: 'CRL CLI CA' }), initCa({ dir: other, name: 'Other CA' })]);
  const issue = (ca: string, name: string) =>
    issueLeaf({ caDir: ca, outDir: join(dir, 'leaves'), name, uris: [`spiffe://example.org/node/${name}`] });
  const [bob, carol, stranger] = await Promise.all([
    issue(caDir, 'bob'),
    issue(caDir, 'carol'),
    issue(other, 'eve'),
  ]);
  const out = join(dir, 'crl', 'ca.crl');
  await import('node:fs/promises').then((fs) => fs.mkdir(join(dir, 'crl')));

  const made = await runCli([
    'pki',
    'crl',
    '--ca-dir',
    caDir,
    '--out',
    out,
    '--revoke',
    bob.certPath,
    '--serial',
    '0A:BC',
    '--next-update',
    '2d',
    '--json',
  ]);
  assert.equal(made.code, 0, made.stderr);
  const json = JSON.parse(made.stdout) as Record<string, unknown>;
  assert.equal(json.crl_path, out);
  assert.equal(json.issuer, 'CN=CRL CLI CA');
  assert.deepEqual(json.revoked_serials, [await serialIn(bob.certPath), '0abc'].sort());
  const due = Date.parse(String(json.next_update)) - Date.now();
  assert.ok(Math.abs(due - 2 * 86_400_000) < 60_000, `next update in ${due} ms`);

  const verified = await openssl(['crl', '-in', out, '-CAfile', join(caDir, 'ca.crt'), '-noout']);
  assert.equal(verified.code, 0, verified.stderr);
  assert.match(verified.stderr + verified.stdout, /verify OK/);

  const cas = [
    parseCertificate(pemCertificatesToDer(await readFile(join(caDir, 'ca.crt'), 'utf8'))[0] as Buffer),
  ];
  const [loaded] = await loadCrls(await readCrlFiles([out]), cas);
  assert.ok(loaded?.revoked.has(await serialIn(bob.certPath)));
  assert.ok(loaded?.revoked.has('0abc'));

  const merged = await runCli([
    'pki',
    'crl',
    '--ca-dir',
    caDir,
    '--out',
    out,
    '--revoke',
    carol.certPath,
    '--merge',
  ]);
  assert.equal(merged.code, 0, merged.stderr);
  assert.match(merged.stdout, /revoked serials: /);
  const [again] = await loadCrls(await readCrlFiles([out]), cas);
  assert.deepEqual(
    [...(again?.revoked.keys() ?? [])].sort(),
    [await serialIn(bob.certPath), await serialIn(carol.certPath), '0abc'].sort(),
  );

  const wrong = await runCli(['pki', 'crl', '--ca-dir', caDir, '--out', out, '--revoke', stranger.certPath]);
  assert.equal(wrong.code, 1);
  assert.match(wrong.stderr, /PKI_WRONG_ISSUER: .* is issued by CN=Other CA/);

  const usage = await runCli(['pki', 'crl', '--ca-dir', caDir, '--out', out, '--next-update', 'soon']);
  assert.notEqual(usage.code, 0);
  assert.match(usage.stderr, /--next-update must be a duration from now/);
});
