// `tessera pki …` through a real child process (the CLI's source under tsx), the way operators run it.
// Set-up that is not under test uses the library directly, and independent invocations run in parallel to
// keep the number of sequential process start-ups small. Finer argument-syntax cases run in-process in
// pki-args.test.ts.
import assert from 'node:assert/strict';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { chmod, mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { initCa } from '../../src/pki/ca.ts';
import { type CertificateInfo, inspectCertificates } from '../../src/pki/inspect.ts';
import { issueLeaf } from '../../src/pki/issue.ts';
import { runCli } from '../support/child.ts';
import { openssl, opensslFingerprint, verifyPurpose } from '../support/openssl.ts';
import { tempDir } from '../support/pki.ts';

const DAY_MS = 86_400_000;

async function modeOf(path: string): Promise<number> {
  return (await stat(path)).mode & 0o777;
}

async function assertVerifies(caPath: string, certPath: string): Promise<void> {
  for (const purpose of ['sslclient', 'sslserver'] as const) {
    const result = await verifyPurpose(caPath, certPath, purpose);
    assert.equal(
      result.code,
      0,
      `openssl verify -purpose ${purpose} ${certPath}: ${result.stdout}${result.stderr}`,
    );
    assert.match(result.stdout, /: OK$/m);
  }
}

test('pki init-ca writes a CA, and refuses to replace it without --force', async (t) => {
  const dir = join(await tempDir(t), 'new', 'ca');
  const first = await runCli([
    'pki',
    'init-ca',
    '--dir',
    dir,
    '--name',
    'CLI Root',
    '--algo',
    'ed25519',
    '--days',
    '30',
  ]);
  assert.equal(first.code, 0, first.stderr);
  const certPath = join(dir, 'ca.crt');
  const keyPath = join(dir, 'ca.key');
  assert.match(first.stdout, new RegExp(`wrote ${certPath}\n`));
  assert.match(first.stdout, new RegExp(`wrote ${keyPath} \\(mode 0600`));
  assert.equal(await modeOf(keyPath), 0o600);
  const [ca] = inspectCertificates(await readFile(certPath));
  assert.equal(ca?.subject, 'CN=CLI Root');
  assert.equal(ca?.isCa, true);
  assert.equal(ca?.selfSigned, true);
  assert.equal(ca?.publicKeyAlgorithm, 'Ed25519');
  assert.ok(Math.abs(Date.parse(ca!.notAfter) - Date.now() - 30 * DAY_MS) < 60_000);
  const certBefore = await readFile(certPath);
  const keyBefore = await readFile(keyPath);

  const again = await runCli(['pki', 'init-ca', '--dir', dir]);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /^tessera: PKI_EXISTS: .*ca\.key already exists.*--force/);
  assert.deepEqual(await readFile(certPath), certBefore);
  assert.deepEqual(await readFile(keyPath), keyBefore);
  assert.deepEqual((await readdir(dir)).sort(), ['ca.crt', 'ca.key']);

  const forced = await runCli(['pki', 'init-ca', '--dir', dir, '--force']);
  assert.equal(forced.code, 0, forced.stderr);
  assert.notDeepEqual(await readFile(keyPath), keyBefore);
  assert.equal(
    inspectCertificates(await readFile(certPath))[0]?.publicKeyAlgorithm,
    'Ed25519',
    'the default key algorithm is Ed25519',
  );
  assert.deepEqual((await readdir(dir)).sort(), ['ca.crt', 'ca.key']);
});

for (const algo of ['ed25519', 'p256'] as const) {
  test(`pki issue (${algo}): the leaf only (no chain to send twice), 0600 key, both EKUs, SANs as given, openssl verifies`, async (t) => {
    const root = await tempDir(t);
    const caDir = join(root, 'ca');
    const { certPath: caPath } = await initCa({ dir: caDir, algo });
    const out = join(root, 'out');
    const result = await runCli([
      'pki',
      'issue',
      '--ca-dir',
      caDir,
      '--out',
      out,
      '--name',
      'node-a',
      '--uri',
      'spiffe://example.org/node/a',
      'urn:example:node-a',
      '--dns',
      'localhost',
      '--dns',
      'node-a.example.org',
      '--ip',
      '127.0.0.1',
      '::1',
      '--algo',
      algo,
    ]);
    assert.equal(result.code, 0, result.stderr);
    const certPath = join(out, 'node-a.crt');
    const keyPath = join(out, 'node-a.key');
    assert.deepEqual((await readdir(out)).sort(), ['node-a.crt', 'node-a.key']);
    assert.equal(await modeOf(keyPath), 0o600);

    // The CA is in every peer's bundle: a handshake sends one certificate, not two.
    const [leaf, ...rest] = inspectCertificates(await readFile(certPath));
    assert.ok(leaf);
    assert.equal(rest.length, 0);
    assert.equal(leaf.issuer, inspectCertificates(await readFile(caPath))[0]?.subject);
    assert.equal(leaf.isCa, false);
    assert.equal(leaf.subject, 'CN=node-a');
    assert.equal(leaf.publicKeyAlgorithm, algo === 'ed25519' ? 'Ed25519' : 'ECDSA P-256');
    assert.deepEqual(leaf.extendedKeyUsages, ['serverAuth', 'clientAuth']);
    assert.deepEqual(leaf.sans, {
      uris: ['spiffe://example.org/node/a', 'urn:example:node-a'],
      dnsNames: ['localhost', 'node-a.example.org'],
      ips: ['127.0.0.1', '::1'],
      emails: [],
    });
    assert.equal(leaf.daysLeft, 89.9);
    assert.match(result.stdout, /URI SAN: spiffe:\/\/example\.org\/node\/a\nURI SAN: urn:example:node-a\n/);
    assert.match(result.stdout, new RegExp(`SPKI sha256: ${leaf.spkiSha256}\n`));
    assert.ok(
      new X509Certificate(await readFile(certPath)).checkPrivateKey(
        createPrivateKey(await readFile(keyPath)),
      ),
    );
    await assertVerifies(caPath, certPath);
  });
}

test('pki issue refuses bad arguments, naming the problem, and writes nothing', async (t) => {
  const root = await tempDir(t);
  const caDir = join(root, 'ca');
  await initCa({ dir: caDir });
  const regularFile = join(root, 'file.txt');
  await writeFile(regularFile, 'not a directory');
  const base = (out: string) => ['pki', 'issue', '--ca-dir', caDir, '--out', out, '--name', 'n'];
  const uri = ['--uri', 'spiffe://example.org/node/n'];
  interface Case {
    label: string;
    args: (out: string) => string[];
    exit: number;
    stderr: RegExp;
    out?: string;
  }
  const cases: Case[] = [
    {
      label: 'missing CA dir',
      args: (out) => [
        'pki',
        'issue',
        '--ca-dir',
        join(root, 'no-such-ca'),
        '--out',
        out,
        '--name',
        'n',
        ...uri,
      ],
      exit: 1,
      stderr: /^tessera: PKI_CA_NOT_FOUND: CA file .*no-such-ca\/ca\.crt not found/,
    },
    {
      label: 'out dir below a regular file',
      args: (out) => [...base(out), ...uri],
      out: join(regularFile, 'sub'),
      exit: 1,
      stderr: /^tessera: PKI_DIR_UNWRITABLE: cannot write to directory .*file\.txt\/sub: .*not a directory/,
    },
    {
      label: 'URI that is not a URI',
      args: (out) => [...base(out), '--uri', 'not a uri'],
      exit: 1,
      stderr: /^tessera: PKI_INVALID_URI: invalid URI "not a uri"/,
    },
    {
      label: 'URI smuggling a second SAN',
      args: (out) => [...base(out), '--uri', 'spiffe://a/b, URI:spiffe://a/admin'],
      exit: 1,
      stderr: /^tessera: PKI_INVALID_URI: invalid URI "spiffe:\/\/a\/b, URI:spiffe:\/\/a\/admin": .*commas/,
    },
    ...['0', '-3', 'abc'].map((days) => ({
      label: `--days ${days}`,
      args: (out: string) => [...base(out), ...uri, '--days', days],
      exit: 2,
      stderr: new RegExp(
        `option '--days <n>' argument '${days}' is invalid\\. --days must be a whole number`,
      ),
    })),
    {
      label: 'invalid --ip',
      args: (out) => [...base(out), ...uri, '--ip', '127.0.0.1', '300.1.1.1'],
      exit: 1,
      stderr: /^tessera: PKI_INVALID_IP: invalid IP address "300\.1\.1\.1"/,
    },
  ];
  if (process.getuid?.() === 0) {
    t.diagnostic(
      'chmod 0500 variant skipped: root bypasses permission checks (the regular-file parent case covers it)',
    );
  } else {
    const readOnly = join(root, 'read-only');
    await mkdir(readOnly, { mode: 0o500 });
    await chmod(readOnly, 0o500);
    cases.push({
      label: 'read-only out dir',
      args: (out) => [...base(out), ...uri],
      out: readOnly,
      exit: 1,
      stderr: /^tessera: PKI_DIR_UNWRITABLE: .*permission denied/,
    });
  }
  const outs = await Promise.all(
    cases.map(async (c, i) => {
      if (c.out) return c.out;
      const out = join(root, `out-${i}`);
      await mkdir(out);
      return out;
    }),
  );
  const results = await Promise.all(cases.map((c, i) => runCli(c.args(outs[i]!))));
  for (const [i, c] of cases.entries()) {
    const result = results[i]!;
    assert.equal(result.code, c.exit, `${c.label}: exit ${result.code}, stderr: ${result.stderr}`);
    assert.match(result.stderr, c.stderr, c.label);
    assert.equal(result.stdout, '', c.label);
    if (!c.out) assert.deepEqual(await readdir(outs[i]!), [], `${c.label}: out dir must stay empty`);
  }
  assert.equal(await readFile(regularFile, 'utf8'), 'not a directory');
  assert.deepEqual(
    (await readdir(root)).filter((name) => !name.startsWith('out-')).sort(),
    process.getuid?.() === 0 ? ['ca', 'file.txt'] : ['ca', 'file.txt', 'read-only'],
  );
  assert.deepEqual((await readdir(caDir)).sort(), ['ca.crt', 'ca.key']);
});

test('pki inspect: text and --json for a single certificate and for a leaf + chain bundle', async (t) => {
  const root = await tempDir(t);
  const { certPath: caPath } = await initCa({ dir: join(root, 'ca') });
  const { certPath: leafPath, keyPath } = await issueLeaf({
    caDir: join(root, 'ca'),
    outDir: join(root, 'out'),
    name: 'n',
    uris: ['spiffe://example.org/node/n'],
    dnsNames: ['localhost'],
    ips: ['::1'],
  });
  // A leaf + chain bundle, as other CAs hand them out.
  const bundlePath = join(root, 'out', 'bundle.crt');
  await writeFile(bundlePath, (await readFile(leafPath, 'utf8')) + (await readFile(caPath, 'utf8')));
  const [caText, caJson, bundleText, bundleJson, keyFile, missing] = await Promise.all([
    runCli(['pki', 'inspect', caPath]),
    runCli(['pki', 'inspect', caPath, '--json']),
    runCli(['pki', 'inspect', bundlePath]),
    runCli(['pki', 'inspect', '--json', bundlePath]),
    runCli(['pki', 'inspect', keyPath]),
    runCli(['pki', 'inspect', join(root, 'missing.crt')]),
  ]);
  for (const result of [caText, caJson, bundleText, bundleJson]) assert.equal(result.code, 0, result.stderr);

  const caInfo = JSON.parse(caJson.stdout) as CertificateInfo[];
  assert.equal(caInfo.length, 1);
  assert.equal(caInfo[0]?.isCa, true);
  assert.equal(caInfo[0]?.selfSigned, true);
  assert.equal(caInfo[0]?.fingerprintSha256, await opensslFingerprint(caPath));

  const bundle = JSON.parse(bundleJson.stdout) as CertificateInfo[];
  assert.equal(bundle.length, 2);
  const [leaf, chained] = bundle;
  assert.deepEqual(leaf?.sans, {
    uris: ['spiffe://example.org/node/n'],
    dnsNames: ['localhost'],
    ips: ['::1'],
    emails: [],
  });
  assert.deepEqual(leaf?.extendedKeyUsages, ['serverAuth', 'clientAuth']);
  // openssl reads the first certificate of the bundle, i.e. the leaf.
  assert.equal(leaf?.fingerprintSha256, await opensslFingerprint(bundlePath));
  const serial = (await openssl(['x509', '-in', bundlePath, '-noout', '-serial'])).stdout.trim();
  assert.equal(`serial=${leaf?.serial}`, serial.toLowerCase());
  assert.deepEqual(chained, caInfo[0]);

  assert.match(caText.stdout, /^Certificate\n {2}Subject: +CN=Tessera CA\n/);
  assert.doesNotMatch(caText.stdout, /of 2/);
  assert.match(bundleText.stdout, /^Certificate 1 of 2\n {2}Subject: +CN=n\n/);
  assert.match(bundleText.stdout, /\nCertificate 2 of 2\n {2}Subject: +CN=Tessera CA\n/);
  assert.match(bundleText.stdout, /URI SANs: +"spiffe:\/\/example\.org\/node\/n"\n/);
  assert.match(bundleText.stdout, new RegExp(`SHA-256 fingerprint: +${leaf?.fingerprintSha256}\n`));

  assert.equal(keyFile.code, 1);
  assert.match(
    keyFile.stderr,
    /^tessera: PKI_NOT_A_CERTIFICATE: .*n\.key: no PEM CERTIFICATE block \(found PRIVATE KEY\)/,
  );
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /^tessera: PKI_FILE_UNREADABLE: cannot read .*missing\.crt \(ENOENT\)/);
});

test('pki dev: a CA and one SPIFFE certificate per node; a bad trust domain writes nothing', async (t) => {
  const root = await tempDir(t);
  const out = join(root, 'dev');
  const [good, bad, badDays] = await Promise.all([
    runCli([
      'pki',
      'dev',
      '--out',
      out,
      '--nodes',
      'a,b',
      '--trust-domain',
      'corp.test',
      '--algo',
      'ed25519',
    ]),
    runCli(['pki', 'dev', '--out', join(root, 'bad'), '--nodes', 'a', '--trust-domain', 'Corp.Test']),
    runCli(['pki', 'dev', '--out', join(root, 'bad-days'), '--nodes', 'a', '--days', '0']),
  ]);
  assert.equal(good.code, 0, good.stderr);
  assert.deepEqual((await readdir(out)).sort(), ['a.crt', 'a.key', 'b.crt', 'b.key', 'ca.crt', 'ca.key']);
  const caPath = join(out, 'ca.crt');
  for (const name of ['a', 'b']) {
    const certPath = join(out, `${name}.crt`);
    assert.equal(await modeOf(join(out, `${name}.key`)), 0o600);
    const [leaf] = inspectCertificates(await readFile(certPath));
    assert.deepEqual(leaf?.sans, {
      uris: [`spiffe://corp.test/node/${name}`],
      dnsNames: ['localhost'],
      ips: ['127.0.0.1', '::1'],
      emails: [],
    });
    assert.match(good.stdout, new RegExp(`node ${name}: URI SAN spiffe://corp\\.test/node/${name}\n`));
    assert.match(good.stdout, new RegExp(`SPKI sha256: ${leaf?.spkiSha256}\n`));
    await assertVerifies(caPath, certPath);
  }
  assert.equal(await modeOf(join(out, 'ca.key')), 0o600);

  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /^tessera: PKI_INVALID_TRUST_DOMAIN: invalid trust domain "Corp\.Test"/);
  assert.equal(badDays.code, 2);
  assert.match(badDays.stderr, /--days must be a whole number/);
  assert.deepEqual((await readdir(root)).sort(), ['dev']);
});
