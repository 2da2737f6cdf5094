// `tessera doctor` as an operator runs it: the real CLI on files written by `tessera pki dev`, the same
// flags and variables as `tessera serve`, its text and --json output and its exit status (0 clean,
// 1 errors or a usage error, 2 warnings only). What each check finds is test/node/doctor/doctor.test.ts.
import assert from 'node:assert/strict';
import { chmod, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { runCli } from '../support/child.ts';
import { createTestCa, DAY_MS, tempDir, testUri, writeMaterial } from '../support/pki.ts';

const NODE_URI = 'spiffe://example.org/node/a';

describe('tessera doctor (CLI)', () => {
  test('on `tessera pki dev` output, given as serve flags → "clean", exit 0', async (t) => {
    const dir = await tempDir(t, 'tessera-doctor-cli-');
    const pki = await runCli(['pki', 'dev', '--out', dir, '--nodes', 'a']);
    assert.equal(pki.code, 0, pki.stderr);
    const result = await runCli([
      'doctor',
      '--data-dir',
      join(dir, 'data'),
      '--entity-uri',
      NODE_URI,
      '--tls-cert',
      join(dir, 'a.crt'),
      '--tls-key',
      join(dir, 'a.key'),
      '--tls-ca',
      join(dir, 'ca.crt'),
    ]);
    assert.equal(result.code, 0, result.stdout + result.stderr);
    assert.match(result.stdout, /^settings: ok$/m);
    assert.match(
      result.stdout,
      new RegExp(`^own certificate and key \\(${join(dir, 'a.crt')}, .*\\): ok$`, 'm'),
    );
    assert.match(result.stdout, /^CA bundle \(.*ca\.crt\): ok$/m);
    assert.match(result.stdout, /^clean: no errors, no warnings$/m);
    assert.equal(result.stderr, '');
  });

  test('a group-readable key, --json → exit 1 and the stable {findings, summary} shape', async (t) => {
    const dir = await tempDir(t, 'tessera-doctor-cli-');
    const ca = await createTestCa();
    const paths = await writeMaterial(dir, 'node', await ca.issue('node'), ca.certPem);
    await chmod(paths.keyPath, 0o640);
    const result = await runCli(['doctor', '--json'], {
      env: {
        TESSERA_DATA_DIR: join(dir, 'data'),
        TESSERA_ENTITY_URI: testUri('node'),
        TESSERA_TLS_CERT_PATH: paths.certPath,
        TESSERA_TLS_KEY_PATH: paths.keyPath,
        TESSERA_TLS_CA_BUNDLE: paths.caPath,
      },
    });
    assert.equal(result.code, 1, result.stderr);
    type Finding = { code: string; severity: string; subject: string; message: string; fix: string };
    const json = JSON.parse(result.stdout) as { findings: Finding[]; summary: unknown };
    assert.deepEqual(Object.keys(json), ['findings', 'summary']);
    assert.deepEqual(json.summary, { errors: 1, warnings: 0 });
    assert.equal(json.findings.length, 1);
    const [finding] = json.findings as [Finding];
    assert.deepEqual(Object.keys(finding), ['code', 'severity', 'subject', 'message', 'fix']);
    assert.deepEqual(
      [finding.code, finding.severity, finding.subject],
      ['TLS_KEY_FILE_MODE', 'error', paths.keyPath],
    );
    assert.match(finding.message, /mode 0640: readable by its group/);
  });

  test('warnings only (a certificate ending in 10 days) → exit 2, the finding and its fix in the text', async (t) => {
    const dir = await tempDir(t, 'tessera-doctor-cli-');
    const ca = await createTestCa();
    const leaf = await ca.issue('node', { notAfter: new Date(Date.now() + 10 * DAY_MS) });
    const paths = await writeMaterial(dir, 'node', leaf, ca.certPem);
    const result = await runCli(['doctor'], {
      env: {
        TESSERA_DATA_DIR: join(dir, 'data'),
        TESSERA_ENTITY_URI: testUri('node'),
        // The Stigmem names are read too.
        STIGMEM_TLS_CERT_PATH: paths.certPath,
        STIGMEM_TLS_KEY_PATH: paths.keyPath,
        STIGMEM_TLS_CA_BUNDLE: paths.caPath,
      },
    });
    assert.equal(result.code, 2, result.stdout + result.stderr);
    assert.match(result.stdout, /^own certificate and key .*: 1 warning$/m);
    assert.match(
      result.stdout,
      new RegExp(`^ {2}WARNING TLS_CERT_EXPIRES_SOON \\(${paths.certPath}\\)$`, 'm'),
    );
    assert.match(result.stdout, /^ {4}fix: renew it before the critical window/m);
    assert.match(result.stdout, /^0 errors, 1 warning$/m);
  });

  test('settings serve would refuse → findings on stdout and exit 1, no stack trace', async (t) => {
    const dir = await tempDir(t, 'tessera-doctor-cli-');
    const result = await runCli(['doctor', '--json', '--api-port', '99999'], {
      env: {
        TESSERA_DATA_DIR: dir,
        TESSERA_ENTITY_URI: NODE_URI,
        TESSERA_TLS_CERT_PATH: join(dir, 'node.crt'),
        STIGMEM_TLS_CERT_PATH: join(dir, 'other.crt'),
        TESSERA_TLS_KEY_PATH: join(dir, 'node.key'),
        TESSERA_TLS_CA_BUNDLE: join(dir, 'ca.crt'),
      },
    });
    assert.equal(result.code, 1);
    assert.equal(result.stderr, '', 'nothing on stderr: no stack trace, no crash');
    const json = JSON.parse(result.stdout) as { findings: { code: string; subject: string }[] };
    assert.deepEqual(
      json.findings.map((f) => [f.code, f.subject]),
      [
        ['SETTINGS_INVALID', 'TESSERA_API_PORT'],
        ['SETTINGS_ALIAS_CONFLICT', 'TESSERA_TLS_CERT_PATH'],
      ],
    );
  });

  test('usage errors exit 1 (2 would read as "warnings only"): an unknown flag, a non-https --peer-url', async (t) => {
    const dir = await tempDir(t, 'tessera-doctor-cli-');
    const unknown = await runCli(['doctor', '--no-such-flag']);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /unknown option '--no-such-flag'/);
    const ca = await createTestCa();
    const paths = await writeMaterial(dir, 'node', await ca.issue('node'), ca.certPem);
    const plain = await runCli(['doctor', '--peer-url', 'http://127.0.0.1:8765'], {
      env: {
        TESSERA_ENTITY_URI: testUri('node'),
        TESSERA_TLS_CERT_PATH: paths.certPath,
        TESSERA_TLS_KEY_PATH: paths.keyPath,
        TESSERA_TLS_CA_BUNDLE: paths.caPath,
      },
    });
    assert.equal(plain.code, 1);
    assert.match(plain.stderr, /^tessera: --peer-url must be an https:\/\/ URL/m);
    assert.equal(plain.stdout, '');
  });

  test('--peer-cert of another CA → PEER_CERT_UNTRUSTED in the output, exit 1', async (t) => {
    const dir = await tempDir(t, 'tessera-doctor-cli-');
    const ca = await createTestCa();
    const paths = await writeMaterial(dir, 'node', await ca.issue('node'), ca.certPem);
    const peerFile = join(dir, 'peer.crt');
    await writeFile(peerFile, (await (await createTestCa('Foreign CA')).issue('peer')).chainPem);
    const result = await runCli(['doctor', '--peer-cert', peerFile, '--peer-uri', testUri('peer')], {
      env: {
        TESSERA_DATA_DIR: join(dir, 'data'),
        TESSERA_ENTITY_URI: testUri('node'),
        TESSERA_TLS_CERT_PATH: paths.certPath,
        TESSERA_TLS_KEY_PATH: paths.keyPath,
        TESSERA_TLS_CA_BUNDLE: paths.caPath,
      },
    });
    assert.equal(result.code, 1, result.stderr);
    assert.match(result.stdout, new RegExp(`^peer certificate ${peerFile}: 1 error$`, 'm'));
    assert.match(
      result.stdout,
      /^ {4}we would refuse it either way \(cert_untrusted\): CN=peer \(issuer CN=Foreign CA\)/m,
    );
  });
});
