// `tessera tls probe` against a real `tessera tls serve` child, and `tessera tls check`: what they print
// and their exit codes (0 ok, 1 refused / invalid, 2 usage).
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { IssuedCertificate } from '../../src/pki/certificate.ts';
import type { MaterialPaths } from '../../src/tls/material.ts';
import { type CliProcess, runCli, startCli } from '../support/child.ts';
import { createTestCa, type TestCa, tempDir, testUri, writeMaterial } from '../support/pki.ts';
import { fingerprintOf } from '../support/reload.ts';

const SUITE = /TLS_AES_256_GCM_SHA384|TLS_AES_128_GCM_SHA256|TLS_CHACHA20_POLY1305_SHA256/;

const materialArgs = (paths: MaterialPaths) => [
  '--cert',
  paths.certPath,
  '--key',
  paths.keyPath,
  '--ca',
  paths.caPath,
];

describe('tessera tls probe (against tessera tls serve)', () => {
  let ca: TestCa;
  let dir: string;
  let serverLeaf: IssuedCertificate;
  let clientPaths: MaterialPaths;
  let serve: CliProcess;
  let target: string;

  before(async () => {
    ca = await createTestCa('Probe CA');
    // Not tempDir(): an after() registered inside this hook would run as soon as the hook ends.
    dir = await mkdtemp(join(tmpdir(), 'tessera-probe-'));
    serverLeaf = await ca.issue('server');
    const serverPaths = await writeMaterial(dir, 'server', serverLeaf, ca.certPem);
    clientPaths = await writeMaterial(dir, 'client', await ca.issue('client'), ca.certPem);
    serve = startCli([
      'tls',
      'serve',
      ...materialArgs(serverPaths),
      '--allow-uri',
      testUri('client'),
      '--entity-uri',
      testUri('server'),
    ]);
    const listening = await serve.waitForEvent((e) => e.event === 'listening', 30_000);
    target = `127.0.0.1:${listening.port as number}`;
  });
  after(async () => {
    await serve?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const probe = (paths: MaterialPaths, ...extra: string[]) =>
    runCli(['tls', 'probe', target, ...materialArgs(paths), ...extra]);

  test('an admitted client: identity, suite, expiry, "server kept us", AUTHORIZED → exit 0', async () => {
    const result = await probe(clientPaths, '--expect-uri', testUri('server'));
    assert.equal(result.code, 0, result.stderr);
    const out = result.stdout;
    const notAfter = new Date(new X509Certificate(serverLeaf.certPem).validTo).toISOString();
    assert.match(out, new RegExp(`^target:\\s+${target}$`, 'm'));
    assert.match(out, /^protocol:\s+TLSv1\.3 {2}cipher: (\S+)$/m);
    assert.match(out.match(/cipher: (\S+)/)?.[1] ?? '', SUITE);
    assert.match(out, /^chain:\s+verified against the CA bundle$/m);
    assert.match(out, new RegExp(`^server URIs:\\s+${testUri('server')}$`, 'm'));
    assert.match(out, /^server DNS\/IP:\s+localhost, 127\.0\.0\.1$/m);
    assert.match(out, /^issuer:\s+CN=Probe CA$/m);
    assert.match(out, new RegExp(`^expires:\\s+${notAfter.replaceAll('.', '\\.')}$`, 'm'));
    assert.match(out, new RegExp(`^fingerprint:\\s+sha256:${fingerprintOf(serverLeaf.certPem)}$`, 'm'));
    assert.match(
      out,
      new RegExp(
        `^chain\\[0\\]:\\s+CN=server \\(issuer CN=Probe CA\\), expires ${notAfter.replaceAll('.', '\\.')}$`,
        'm',
      ),
    );
    assert.match(out, /^chain\[1\]:\s+CN=Probe CA \(issuer CN=Probe CA\), expires /m);
    assert.match(out, new RegExp(`^expected URI:\\s+${testUri('server')}$`, 'm'));
    assert.match(out, /^server kept us: yes$/m);
    assert.match(out, /^AUTHORIZED$/m);
  });

  test('--json: the same facts, machine-readable', async () => {
    const result = await probe(clientPaths, '--json', '--expect-uri', testUri('server'));
    assert.equal(result.code, 0, result.stderr);
    const json = JSON.parse(result.stdout) as {
      protocol: string;
      cipher: string;
      chainVerified: boolean;
      identity: { uris: string[]; spiffeId: string; fingerprint256: string; notAfter: string };
      chain: { subject: string }[];
      authorized: boolean;
      reasons: string[];
      serverAcceptedUs: boolean;
    };
    assert.equal(json.protocol, 'TLSv1.3');
    assert.match(json.cipher, SUITE);
    assert.equal(json.chainVerified, true);
    assert.deepEqual(json.identity.uris, [testUri('server')]);
    assert.equal(json.identity.spiffeId, testUri('server'));
    assert.equal(json.identity.fingerprint256, fingerprintOf(serverLeaf.certPem));
    assert.deepEqual(
      json.chain.map((c) => c.subject),
      ['CN=server', 'CN=Probe CA'],
    );
    assert.deepEqual([json.authorized, json.reasons, json.serverAcceptedUs], [true, [], true]);
  });

  test('a wrong --expect-uri → exit 1, NOT AUTHORIZED naming the mismatch', async () => {
    const wrong = testUri('someone-else');
    const result = await probe(clientPaths, '--expect-uri', wrong);
    assert.equal(result.code, 1);
    assert.match(
      result.stdout,
      new RegExp(
        `^NOT AUTHORIZED: uri_mismatch: expected URI SAN ${wrong}, peer has ${testUri('server')}$`,
        'm',
      ),
    );
    assert.match(result.stdout, /^server kept us: yes$/m, 'the server itself accepted us');
  });

  test('a client the server does not admit → the server hangs up, exit 1, the server logs the reason', async () => {
    const intruder = await writeMaterial(dir, 'intruder', await ca.issue('intruder'), ca.certPem);
    const result = await probe(intruder);
    assert.equal(result.code, 1);
    assert.match(result.stdout, /^server kept us: no \(.+\)$/m);
    assert.match(result.stdout, /^NOT AUTHORIZED: server refused our certificate: /m);
    const logged = await serve.waitForEvent(
      (e) => e.event === 'tls_peer_rejected' && e.peer === testUri('intruder'),
      10_000,
    );
    assert.equal(logged.reason, 'no_rule_matched');
    assert.equal(logged.side, 'server');
  });

  test('a CA bundle that does not hold the server CA → chain not verified (cert_untrusted), exit 1', async () => {
    const other = await createTestCa('Unrelated CA');
    const caPath = join(dir, 'unrelated-ca.crt');
    await writeFile(caPath, other.certPem);
    const result = await probe({ ...clientPaths, caPath });
    assert.equal(result.code, 1);
    assert.match(
      result.stdout,
      /^chain:\s+NOT verified \((SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE)\)$/m,
    );
    assert.match(
      result.stdout,
      /NOT AUTHORIZED: cert_untrusted: (SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE)/,
    );
  });

  test('usage: missing --key → exit 2; a target without a port → exit 1 with the message', async () => {
    const [missing, bad] = await Promise.all([
      runCli(['tls', 'probe', target, '--cert', clientPaths.certPath, '--ca', clientPaths.caPath]),
      runCli(['tls', 'probe', '127.0.0.1', ...materialArgs(clientPaths)]),
    ]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /required option '--key <file>' not specified/);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /^tessera: target must be HOST:PORT \(got "127\.0\.0\.1"\)$/m);
  });
});

describe('tessera tls check', () => {
  test('valid material → exit 0 with subject, expiry, URI SANs and SPKI', async (t) => {
    const ca = await createTestCa();
    const leaf = await ca.issue('node');
    const paths = await writeMaterial(await tempDir(t), 'node', leaf, ca.certPem);
    const [plain, withUri] = await Promise.all([
      runCli(['tls', 'check', ...materialArgs(paths)]),
      runCli(['tls', 'check', ...materialArgs(paths), '--entity-uri', testUri('node')]),
    ]);
    const notAfter = new Date(new X509Certificate(leaf.certPem).validTo).toISOString();
    for (const result of [plain, withUri]) {
      assert.equal(result.code, 0, result.stderr);
      assert.match(
        result.stdout,
        new RegExp(
          `^ok: ${paths.certPath} \\(CN=node\\) valid until ${notAfter.replaceAll('.', '\\.')}, URI SANs ${testUri('node')}, SPKI sha256:[0-9a-f]{64}\\n$`,
        ),
      );
    }
  });

  test('each invalid input → exit 1, "tessera: <CODE>: …" naming the file', async (t) => {
    const ca = await createTestCa();
    const other = await createTestCa('Other CA');
    const dir = await tempDir(t);
    const good = await writeMaterial(dir, 'node', await ca.issue('node'), ca.certPem);
    const mismatch = await writeMaterial(dir, 'mismatch', await ca.issue('mismatch'), ca.certPem);
    await writeFile(mismatch.keyPath, (await ca.issue('x')).keyPem);
    const foreign = await writeMaterial(dir, 'foreign', await other.issue('foreign'), ca.certPem);
    const cases: [string, string[], string, string][] = [
      [
        'missing cert',
        materialArgs({ ...good, certPath: join(dir, 'nope.crt') }),
        'TLS_FILE_UNREADABLE',
        join(dir, 'nope.crt'),
      ],
      ['key mismatch', materialArgs(mismatch), 'TLS_KEY_MISMATCH', mismatch.keyPath],
      ['foreign chain', materialArgs(foreign), 'TLS_CHAIN_UNTRUSTED', foreign.certPath],
      [
        'entity URI not in the certificate',
        [...materialArgs(good), '--entity-uri', testUri('other')],
        'TLS_ENTITY_URI_MISSING',
        good.certPath,
      ],
    ];
    await Promise.all(
      cases.map(async ([name, args, code, file]) => {
        const result = await runCli(['tls', 'check', ...args]);
        assert.equal(result.code, 1, `${name}: exit code`);
        assert.match(result.stderr, new RegExp(`^tessera: ${code}: `), `${name}: ${result.stderr}`);
        assert.ok(result.stderr.includes(file), `${name}: names ${file}`);
        assert.equal(result.stdout, '', `${name}: nothing on stdout`);
      }),
    );
  });

  test('missing a required option → exit 2', async () => {
    const result = await runCli(['tls', 'check', '--cert', 'a.crt', '--key', 'a.key']);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /required option '--ca <file>' not specified/);
  });
});
