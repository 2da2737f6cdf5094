// Rule 1: certificate, key and CA bundle are checked as one unit, each failure with its own code and a
// message naming the file; and a server refuses to start (non-zero exit) on any of them.
import assert from 'node:assert/strict';
import { chmod, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { buildCertificate } from '../../src/pki/certificate.ts';
import { TlsError } from '../../src/tls/errors.ts';
import {
  inspectMaterial,
  loadMaterial,
  type MaterialPaths,
  validateMaterial,
} from '../../src/tls/material.ts';
import { runCli } from '../support/child.ts';
import { createTestCa, DAY_MS, tempDir, testUri, writeMaterial } from '../support/pki.ts';

async function rejects(promise: Promise<unknown>, code: string, file?: string): Promise<TlsError> {
  const error = await promise.then(
    () => assert.fail(`expected ${code}`),
    (e: unknown) => e,
  );
  assert.ok(error instanceof TlsError, `expected a TlsError, got ${String(error)}`);
  assert.equal(error.code, code);
  if (file) {
    assert.equal(error.file, file);
    assert.ok(error.message.includes(file), `message names ${file}: ${error.message}`);
  }
  return error;
}

describe('loadMaterial', () => {
  test('valid material: leaf, chain and CAs parsed, typed SANs and hashes', async (t) => {
    const ca = await createTestCa();
    const paths = await writeMaterial(await tempDir(t), 'node', await ca.issue('node'), ca.certPem);
    const material = await loadMaterial(paths, { entityUri: testUri('node') });
    assert.deepEqual(material.leaf.uris, [testUri('node')]);
    assert.equal(material.chain.length, 1, 'the CA certificate follows the leaf in node.crt');
    assert.equal(material.cas.length, 1);
    assert.match(material.leaf.spkiSha256, /^[0-9a-f]{64}$/);
    assert.match(material.contentHash, /^[0-9a-f]{64}$/);
  });

  test('a leaf issued by an intermediate chains to the root bundle', async (t) => {
    const root = await createTestCa('Root');
    const intermediate = await buildCertificate({
      subjectCN: 'Intermediate',
      isCa: true,
      issuer: { certPem: root.certPem, keyPem: root.keyPem },
    });
    const leaf = await buildCertificate({
      subjectCN: 'node',
      uris: [testUri('node')],
      issuer: { certPem: intermediate.certPem, keyPem: intermediate.keyPem },
    });
    const dir = await tempDir(t);
    const paths = await writeMaterial(dir, 'node', leaf, root.certPem);
    await writeFile(paths.certPath, leaf.certPem);
    await rejects(loadMaterial(paths), 'TLS_CHAIN_UNTRUSTED', paths.certPath);
    await writeFile(paths.certPath, leaf.certPem + intermediate.certPem);
    const material = await loadMaterial(paths);
    assert.equal(material.chain[0]?.subject, 'CN=Intermediate');
  });

  test('each missing file → TLS_FILE_UNREADABLE naming that file', async (t) => {
    const ca = await createTestCa();
    const dir = await tempDir(t);
    const good = await writeMaterial(dir, 'node', await ca.issue('node'), ca.certPem);
    for (const key of ['certPath', 'keyPath', 'caPath'] as const) {
      const paths: MaterialPaths = { ...good, [key]: join(dir, `missing-${key}`) };
      const error = await rejects(loadMaterial(paths), 'TLS_FILE_UNREADABLE', paths[key]);
      assert.match(error.message, /ENOENT/);
    }
  });

  test('garbage instead of PEM → TLS_PEM_INVALID / TLS_CA_BUNDLE_EMPTY / TLS_KEY_INVALID', async (t) => {
    const ca = await createTestCa();
    const dir = await tempDir(t);
    const leaf = await ca.issue('node');
    const paths = await writeMaterial(dir, 'node', leaf, ca.certPem);
    await writeFile(paths.certPath, 'not a certificate\n');
    await rejects(loadMaterial(paths), 'TLS_PEM_INVALID', paths.certPath);
    await writeFile(paths.certPath, leaf.chainPem);
    await writeFile(paths.caPath, '');
    await rejects(loadMaterial(paths), 'TLS_CA_BUNDLE_EMPTY', paths.caPath);
    await writeFile(paths.caPath, ca.certPem);
    await writeFile(paths.keyPath, '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n');
    const error = await rejects(loadMaterial(paths), 'TLS_KEY_INVALID', paths.keyPath);
    assert.doesNotMatch(error.message, /AAAA/, 'key bytes never appear in errors');
  });

  test('a key that does not match the certificate → TLS_KEY_MISMATCH naming the key', async (t) => {
    const ca = await createTestCa();
    const dir = await tempDir(t);
    const paths = await writeMaterial(dir, 'node', await ca.issue('node'), ca.certPem);
    await writeFile(paths.keyPath, (await ca.issue('other')).keyPem);
    const error = await rejects(loadMaterial(paths), 'TLS_KEY_MISMATCH', paths.keyPath);
    assert.ok(error.message.includes(paths.certPath), 'and the certificate it was compared with');
  });

  test('a leaf from another CA → TLS_CHAIN_UNTRUSTED', async (t) => {
    const ca = await createTestCa();
    const other = await createTestCa('Other CA');
    const paths = await writeMaterial(await tempDir(t), 'node', await other.issue('node'), ca.certPem);
    const error = await rejects(loadMaterial(paths), 'TLS_CHAIN_UNTRUSTED', paths.certPath);
    assert.ok(error.message.includes(paths.caPath));
  });

  test('a CA certificate as our own leaf → TLS_LEAF_IS_CA', async (t) => {
    const ca = await createTestCa();
    const caLeaf = await buildCertificate({
      subjectCN: 'sub-ca',
      isCa: true,
      extendedKeyUsages: ['serverAuth', 'clientAuth'],
      issuer: { certPem: ca.certPem, keyPem: ca.keyPem },
    });
    const paths = await writeMaterial(await tempDir(t), 'node', caLeaf, ca.certPem);
    await rejects(loadMaterial(paths), 'TLS_LEAF_IS_CA', paths.certPath);
  });

  test('an EKU extension without serverAuth or clientAuth → TLS_EKU_MISSING naming the missing usage', async (t) => {
    const ca = await createTestCa();
    const dir = await tempDir(t);
    for (const [ekus, missing] of [
      [['serverAuth'], 'clientAuth'],
      [['clientAuth'], 'serverAuth'],
    ] as const) {
      const paths = await writeMaterial(
        dir,
        'node',
        await ca.issue('node', { extendedKeyUsages: [...ekus] }),
        ca.certPem,
      );
      const error = await rejects(loadMaterial(paths), 'TLS_EKU_MISSING', paths.certPath);
      assert.ok(error.message.endsWith(`without ${missing}`), error.message);
    }
  });

  test('no EKU extension at all means any purpose (RFC 5280 4.2.1.12): accepted for every role', async (t) => {
    const ca = await createTestCa();
    const leaf = await ca.issue('node', { extendedKeyUsages: null });
    const paths = await writeMaterial(await tempDir(t), 'node', leaf, ca.certPem);
    const material = await loadMaterial(paths, { entityUri: testUri('node') });
    assert.equal(material.leaf.extendedKeyUsages, null);
  });

  test('roles narrow the usages an EKU extension must list', async (t) => {
    const ca = await createTestCa();
    const dir = await tempDir(t);
    const serverOnly = await writeMaterial(
      dir,
      'node',
      await ca.issue('node', { extendedKeyUsages: ['serverAuth'] }),
      ca.certPem,
    );
    await loadMaterial(serverOnly, { roles: ['server'] });
    const error = await rejects(loadMaterial(serverOnly, { roles: ['client'] }), 'TLS_EKU_MISSING');
    assert.match(error.message, /without clientAuth$/);
  });

  test('validity is checked against the injected clock, with a 5-minute skew allowance', async (t) => {
    const ca = await createTestCa('CA', {
      notBefore: new Date('2026-01-01T00:00:00Z'),
      notAfter: new Date('2036-01-01T00:00:00Z'),
    });
    const notBefore = new Date('2026-06-01T00:00:00Z');
    const notAfter = new Date('2026-09-01T00:00:00Z');
    const paths = await writeMaterial(
      await tempDir(t),
      'node',
      await ca.issue('node', { notBefore, notAfter }),
      ca.certPem,
    );
    const at = (iso: string) => ({ clock: () => new Date(iso) });
    await loadMaterial(paths, at('2026-07-01T00:00:00Z'));
    await loadMaterial(paths, at('2026-09-01T00:04:00Z'));
    await loadMaterial(paths, at('2026-05-31T23:56:00Z'));
    await rejects(loadMaterial(paths, at('2026-09-01T00:06:00Z')), 'TLS_CERT_EXPIRED', paths.certPath);
    await rejects(loadMaterial(paths, at('2026-05-31T23:54:00Z')), 'TLS_CERT_NOT_YET_VALID', paths.certPath);
  });

  test('an expired CA in the bundle → TLS_CERT_EXPIRED naming the bundle', async (t) => {
    const ca = await createTestCa('Old CA', {
      notBefore: new Date(Date.now() - 20 * DAY_MS),
      notAfter: new Date(Date.now() - DAY_MS),
    });
    const paths = await writeMaterial(await tempDir(t), 'node', await ca.issue('node'), ca.certPem);
    // The leaf is checked first; give it a valid period so the CA is what fails.
    await rejects(loadMaterial(paths), 'TLS_CERT_EXPIRED');
  });

  test('the configured entity URI must be a URI SAN of the leaf → TLS_ENTITY_URI_MISSING', async (t) => {
    const ca = await createTestCa();
    const paths = await writeMaterial(await tempDir(t), 'node', await ca.issue('node'), ca.certPem);
    const error = await rejects(
      loadMaterial(paths, { entityUri: testUri('someone-else') }),
      'TLS_ENTITY_URI_MISSING',
      paths.certPath,
    );
    assert.ok(error.message.includes(testUri('node')), 'lists the URI SANs present');
  });
});

describe('inspectMaterial (what tessera doctor reports)', () => {
  test('every problem at once, in start-up order; validateMaterial throws the first of them', async () => {
    const ca = await createTestCa();
    const other = await createTestCa('Other CA');
    const leaf = await other.issue('node', { notAfter: new Date(Date.now() - DAY_MS) });
    const strangerKey = (await ca.issue('stranger')).keyPem;
    const paths = { certPath: 'node.crt', keyPath: 'node.key', caPath: 'ca.crt' };
    const files = { certPem: leaf.certPem, keyPem: strangerKey, caPem: ca.certPem };
    const options = { entityUri: testUri('someone-else') };
    const { leaf: parsed, cas, problems } = inspectMaterial(paths, files, options);
    assert.equal(parsed?.subject, 'CN=node');
    assert.equal(cas?.length, 1);
    assert.deepEqual(
      problems.map((p) => [p.code, p.file]),
      [
        ['TLS_KEY_MISMATCH', 'node.key'],
        ['TLS_CERT_EXPIRED', 'node.crt'],
        ['TLS_CHAIN_UNTRUSTED', 'node.crt'],
        ['TLS_ENTITY_URI_MISSING', 'node.crt'],
      ],
    );
    assert.throws(
      () => validateMaterial(paths, { ...files, contentHash: '' }, options),
      (error: unknown) => error instanceof TlsError && error.code === 'TLS_KEY_MISMATCH',
    );
  });

  test('a file left out skips only the checks that need it', async () => {
    const ca = await createTestCa();
    const leaf = await ca.issue('node');
    const paths = { certPath: 'node.crt', keyPath: 'node.key', caPath: 'ca.crt' };
    const withoutKey = inspectMaterial(paths, { certPem: leaf.certPem, caPem: ca.certPem });
    assert.deepEqual(withoutKey.problems, [], 'chain and validity still checked, and pass');
    const withoutCa = inspectMaterial(paths, { certPem: leaf.certPem, keyPem: ca.keyPem });
    assert.deepEqual(
      withoutCa.problems.map((p) => p.code),
      ['TLS_KEY_MISMATCH'],
    );
    assert.equal(withoutCa.cas, undefined);
  });
});

describe('start-up fails closed (real process: tessera tls serve)', () => {
  const serve = (paths: MaterialPaths) =>
    runCli([
      'tls',
      'serve',
      '--cert',
      paths.certPath,
      '--key',
      paths.keyPath,
      '--ca',
      paths.caPath,
      '--allow-prefix',
      'spiffe://test.example/',
    ]);

  test('unreadable cert, unreadable key, mismatched key, foreign chain, expired own cert → exit ≠ 0 naming file and reason', async (t) => {
    const ca = await createTestCa();
    const other = await createTestCa('Other CA');
    const dir = await tempDir(t);
    const good = await writeMaterial(dir, 'node', await ca.issue('node'), ca.certPem);
    const mismatch = await writeMaterial(dir, 'mismatch', await ca.issue('mismatch'), ca.certPem);
    await writeFile(mismatch.keyPath, (await ca.issue('x')).keyPem);
    const foreign = await writeMaterial(dir, 'foreign', await other.issue('foreign'), ca.certPem);
    const expired = await writeMaterial(
      dir,
      'expired',
      await ca.issue('expired', {
        notBefore: new Date(Date.now() - 30 * DAY_MS),
        notAfter: new Date(Date.now() - DAY_MS),
      }),
      ca.certPem,
    );
    const unreadableKey = join(dir, 'unreadable.key');
    await writeFile(unreadableKey, 'x');
    await chmod(unreadableKey, 0o000);
    const cases: [string, MaterialPaths, string, string][] = [
      [
        'missing cert',
        { ...good, certPath: join(dir, 'nope.crt') },
        'TLS_FILE_UNREADABLE',
        join(dir, 'nope.crt'),
      ],
      // Root can read a 0000 file, so the unreadable key is a directory there: reading it fails either way.
      [
        'unreadable key',
        { ...good, keyPath: process.getuid?.() === 0 ? dir : unreadableKey },
        'TLS_FILE_UNREADABLE',
        process.getuid?.() === 0 ? dir : unreadableKey,
      ],
      ['key mismatch', mismatch, 'TLS_KEY_MISMATCH', mismatch.keyPath],
      ['foreign chain', foreign, 'TLS_CHAIN_UNTRUSTED', foreign.certPath],
      ['expired own cert', expired, 'TLS_CERT_EXPIRED', expired.certPath],
    ];
    await Promise.all(
      cases.map(async ([name, paths, code, file]) => {
        const result = await serve(paths);
        assert.equal(result.code, 1, `${name}: exit code`);
        assert.ok(result.stderr.includes(code), `${name}: stderr names ${code}: ${result.stderr}`);
        assert.ok(result.stderr.includes(file), `${name}: stderr names ${file}`);
        assert.doesNotMatch(result.stdout, /"event":"listening"/, `${name}: never listened`);
      }),
    );
  });
});
