// `tessera doctor`'s checks on real files and real TLS: each broken setup is explained with its code, a
// clean one (Tessera's dev PKI, the Stigmem seeds' openssl recipe) has no finding, and the exit status
// follows (0 clean, 1 errors, 2 warnings only). The CLI around it is test/cli/doctor.test.ts.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmod, chown, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { runDoctor } from '../../../src/node/doctor/doctor.ts';
import { type DoctorReport, exitCodeOf, summarize, toJson } from '../../../src/node/doctor/finding.ts';
import { createDevPki } from '../../../src/pki/dev.ts';
import { exactUri } from '../../../src/tls/authorize.ts';
import type { MaterialPaths } from '../../../src/tls/material.ts';
import { stigmemRecipe } from '../../support/openssl.ts';
import { createTestCa, DAY_MS, tempDir, testUri, writeMaterial } from '../../support/pki.ts';
import { startTestServer } from '../../support/tls-peers.ts';

/** The variables `tessera serve` would be started with for this material. */
function nodeEnv(paths: MaterialPaths, entityUri: string, dataDir: string): Record<string, string> {
  return {
    TESSERA_DATA_DIR: dataDir,
    TESSERA_ENTITY_URI: entityUri,
    TESSERA_TLS_CERT_PATH: paths.certPath,
    TESSERA_TLS_KEY_PATH: paths.keyPath,
    TESSERA_TLS_CA_BUNDLE: paths.caPath,
  };
}

const doctor = (env: Record<string, string>, extra: Partial<Parameters<typeof runDoctor>[0]> = {}) =>
  runDoctor({ flags: {}, env, ...extra });

const codes = (report: DoctorReport) => toJson(report).findings.map((f) => f.code);
const exit = (report: DoctorReport) => exitCodeOf(summarize(report));
const only = (report: DoctorReport, code: string) => {
  const found = toJson(report).findings.filter((f) => f.code === code);
  assert.equal(found.length, 1, `one ${code} in ${JSON.stringify(toJson(report), null, 1)}`);
  return found[0] as (typeof found)[number];
};

/** A test CA, a node leaf written as an operator would, and the env to check it with. */
async function setup(
  t: Parameters<typeof tempDir>[0],
  leaf?: Parameters<Awaited<ReturnType<typeof createTestCa>>['issue']>[1],
) {
  const dir = await tempDir(t, 'tessera-doctor-');
  const ca = await createTestCa('Doctor CA');
  const paths = await writeMaterial(dir, 'node', await ca.issue('node', leaf), ca.certPem);
  return { dir, ca, paths, env: nodeEnv(paths, testUri('node'), join(dir, 'data')) };
}

describe('tessera doctor: clean setups', () => {
  test('the dev PKI of `tessera pki dev` → no finding, exit 0', async (t) => {
    const dir = await tempDir(t, 'tessera-doctor-');
    const pki = await createDevPki({ out: dir, nodes: ['a'] });
    const node = pki.nodes[0]!;
    const paths = { certPath: node.certPath, keyPath: node.keyPath, caPath: pki.caCertPath };
    const report = await doctor(nodeEnv(paths, node.uri, join(dir, 'data')));
    assert.deepEqual(toJson(report), { findings: [], summary: { errors: 0, warnings: 0 } });
    assert.equal(exit(report), 0);
  });

  test("the Stigmem seeds' openssl recipe (Ed25519, URI SAN only, no EKU), through STIGMEM_* names → exit 0", async (t) => {
    const dir = await tempDir(t, 'tessera-doctor-');
    const uri = 'stigmem://your-org.example.com/nodes/primary';
    const pki = await stigmemRecipe(join(dir, 'tls'), [{ name: 'primary', uri }]);
    const paths = pki.node('primary');
    const report = await doctor({
      TESSERA_DATA_DIR: join(dir, 'data'),
      TESSERA_ENTITY_URI: uri,
      STIGMEM_TLS_CERT_PATH: paths.certPath,
      STIGMEM_TLS_KEY_PATH: paths.keyPath,
      STIGMEM_TLS_CA_BUNDLE: paths.caPath,
    });
    assert.deepEqual(toJson(report).findings, []);
    assert.equal(exit(report), 0);
  });
});

describe('tessera doctor: own certificate and key', () => {
  test('a key of mode 0644 → TLS_KEY_FILE_MODE, exit 1', async (t) => {
    const { paths, env } = await setup(t);
    await chmod(paths.keyPath, 0o644);
    const report = await doctor(env);
    const found = only(report, 'TLS_KEY_FILE_MODE');
    assert.equal(found.severity, 'error');
    assert.equal(found.subject, paths.keyPath);
    assert.match(found.message, /has mode 0644: readable by its group and others/);
    assert.match(found.fix, /chmod 600/);
    assert.deepEqual(codes(report), ['TLS_KEY_FILE_MODE']);
    assert.equal(exit(report), 1);
  });

  test('a key of another certificate → TLS_KEY_MISMATCH naming the key', async (t) => {
    const { ca, paths, env } = await setup(t);
    await writeFile(paths.keyPath, (await ca.issue('other')).keyPem, { mode: 0o600 });
    const report = await doctor(env);
    assert.deepEqual(codes(report), ['TLS_KEY_MISMATCH']);
    assert.equal(only(report, 'TLS_KEY_MISMATCH').subject, paths.keyPath);
    assert.equal(exit(report), 1);
  });

  test('a certificate ending within the warning window → TLS_CERT_EXPIRES_SOON, exit 2', async (t) => {
    const { paths, env } = await setup(t, { notAfter: new Date(Date.now() + 10 * DAY_MS) });
    const report = await doctor(env);
    const found = only(report, 'TLS_CERT_EXPIRES_SOON');
    assert.equal(found.severity, 'warning');
    assert.equal(found.subject, paths.certPath);
    assert.match(found.message, /CN=node .* in (9|10) days .*inside TESSERA_TLS_EXPIRY_WARNING, 30d/);
    assert.deepEqual(codes(report), ['TLS_CERT_EXPIRES_SOON']);
    assert.equal(exit(report), 2);
  });

  test('the windows are the settings the node reads: a 10-day certificate is critical with a 14d window', async (t) => {
    const { env } = await setup(t, { notAfter: new Date(Date.now() + 10 * DAY_MS) });
    const report = await doctor({ ...env, TESSERA_TLS_EXPIRY_CRITICAL: '14d' });
    assert.deepEqual(codes(report), ['TLS_CERT_EXPIRY_CRITICAL']);
    assert.equal(exit(report), 1);
    const relaxed = await doctor(env, { flags: { tlsExpiryWarning: '9d', tlsExpiryCritical: '1d' } });
    assert.deepEqual(codes(relaxed), [], 'the flags win over the variables, as for serve');
  });

  test('less left than TESSERA_TLS_MIN_REMAINING_LIFETIME → TLS_LIFETIME_TOO_SHORT, the code start-up refuses with', async (t) => {
    const { paths, env } = await setup(t, { notAfter: new Date(Date.now() + 40 * DAY_MS) });
    assert.deepEqual(codes(await doctor(env)), [], 'no floor by default');
    const report = await doctor({ ...env, TESSERA_TLS_MIN_REMAINING_LIFETIME: '60d' });
    assert.deepEqual(codes(report), ['TLS_LIFETIME_TOO_SHORT']);
    assert.equal(only(report, 'TLS_LIFETIME_TOO_SHORT').subject, paths.certPath);
    assert.match(
      only(report, 'TLS_LIFETIME_TOO_SHORT').message,
      /less than the minimum remaining lifetime of 60 d/,
    );
    assert.equal(exit(report), 1);
  });

  test('an expired certificate → TLS_CERT_EXPIRED (and no expiry-window finding on top), exit 1', async (t) => {
    const { paths, env } = await setup(t, {
      notBefore: new Date(Date.now() - 30 * DAY_MS),
      notAfter: new Date(Date.now() - DAY_MS),
    });
    const report = await doctor(env);
    assert.deepEqual(codes(report), ['TLS_CERT_EXPIRED']);
    assert.match(
      only(report, 'TLS_CERT_EXPIRED').message,
      new RegExp(`CN=node in ${paths.certPath} expired at`),
    );
    assert.equal(exit(report), 1);
  });

  test('a leaf from another CA → TLS_CHAIN_UNTRUSTED', async (t) => {
    const { paths, env } = await setup(t);
    const other = await createTestCa('Other CA');
    const leaf = await other.issue('node');
    await writeFile(paths.certPath, leaf.chainPem);
    await writeFile(paths.keyPath, leaf.keyPem, { mode: 0o600 });
    const report = await doctor(env);
    assert.deepEqual(codes(report), ['TLS_CHAIN_UNTRUSTED']);
    assert.match(only(report, 'TLS_CHAIN_UNTRUSTED').message, /issuer CN=Other CA\) does not chain to a CA/);
  });

  test('no URI SAN equal to the entity URI → TLS_ENTITY_URI_MISSING listing the SANs present', async (t) => {
    const { env } = await setup(t, { uris: ['spiffe://test.example/node/someone-else'] });
    const report = await doctor(env);
    assert.deepEqual(codes(report), ['TLS_ENTITY_URI_MISSING']);
    assert.match(
      only(report, 'TLS_ENTITY_URI_MISSING').message,
      /URI SANs: spiffe:\/\/test\.example\/node\/someone-else/,
    );
  });

  test('several problems at once are all reported, not only the first', async (t) => {
    const { ca, paths, env } = await setup(t, {
      uris: ['spiffe://test.example/node/x'],
      notAfter: new Date(Date.now() + 3 * DAY_MS),
    });
    await writeFile(paths.keyPath, (await ca.issue('other')).keyPem);
    await chmod(paths.keyPath, 0o640);
    const report = await doctor(env);
    assert.deepEqual(codes(report).sort(), [
      'TLS_CERT_EXPIRY_CRITICAL',
      'TLS_ENTITY_URI_MISSING',
      'TLS_KEY_FILE_MODE',
      'TLS_KEY_MISMATCH',
    ]);
  });

  test('a SPIFFE entity URI among several URI SANs → TLS_SPIFFE_ID_NOT_SINGLE (warning)', async (t) => {
    const { env } = await setup(t, { uris: [testUri('node'), 'urn:example:extra'] });
    const report = await doctor(env);
    assert.deepEqual(codes(report), ['TLS_SPIFFE_ID_NOT_SINGLE']);
    assert.equal(exit(report), 2);
  });

  test('certificate and key owned by another user → TLS_FILE_OWNER for each', async (t) => {
    if (process.getuid?.() !== 0) return t.skip('needs root to give the files away');
    const { paths, env } = await setup(t);
    await chown(paths.certPath, 65534, 65534);
    await chown(paths.keyPath, 65534, 65534);
    const report = await doctor(env);
    const owners = toJson(report).findings.filter((f) => f.code === 'TLS_FILE_OWNER');
    assert.deepEqual(
      owners.map((f) => f.subject),
      [paths.certPath, paths.keyPath],
    );
    assert.match(
      owners[1]!.message,
      /owned by uid 65534, but the node runs as uid 0 \(the user running doctor\)/,
    );
  });

  test("the owner expected is the running node's when TESSERA_PID_FILE names a live process", async (t) => {
    const { dir, paths, env } = await setup(t);
    const pidFile = join(dir, 'tessera.pid');
    await writeFile(pidFile, `${process.pid}\n`);
    const own = (await stat(`/proc/${process.pid}`).catch(() => null))?.uid;
    if (own === undefined) return t.skip('no /proc');
    const report = await doctor({ ...env, TESSERA_PID_FILE: pidFile });
    assert.deepEqual(codes(report), [], 'this process owns the files it wrote');
    if (process.getuid?.() !== 0) return;
    await chown(paths.keyPath, 65534, 65534);
    const moved = await doctor({ ...env, TESSERA_PID_FILE: pidFile });
    assert.match(
      only(moved, 'TLS_FILE_OWNER').message,
      new RegExp(`the user of the running node, pid ${process.pid}`),
    );
  });
  test('a Kubernetes secret volume (root:<fsGroup> 0440, the node not root) is accepted; another group is not', async (t) => {
    if (process.getuid?.() !== 0) return t.skip('needs root to give the files away and run a node stand-in');
    const { dir, paths, env } = await setup(t);
    // The running node: a process of uid/gid 65532 (the image's user), named by the PID file.
    const node = spawn('sleep', ['120'], { uid: 65532, gid: 65532, stdio: 'ignore' });
    t.after(() => node.kill());
    const pidFile = join(dir, 'tessera.pid');
    await writeFile(pidFile, `${node.pid}\n`);
    for (const file of [paths.certPath, paths.keyPath, paths.caPath]) {
      await chown(file, 0, 65532);
      await chmod(file, 0o440);
    }
    const projected = await doctor({ ...env, TESSERA_PID_FILE: pidFile });
    assert.deepEqual(codes(projected), [], 'what cert-manager and a secret volume with fsGroup produce');
    await chown(paths.keyPath, 0, 12345);
    const foreign = await doctor({ ...env, TESSERA_PID_FILE: pidFile });
    assert.deepEqual(codes(foreign), ['TLS_KEY_FILE_MODE', 'TLS_FILE_OWNER']);
    assert.match(only(foreign, 'TLS_KEY_FILE_MODE').message, /has mode 0440: readable by its group$/);
  });
});

describe('tessera doctor: CA bundle', () => {
  test('the same CA twice → TLS_CA_DUPLICATE (warning), exit 2', async (t) => {
    const { ca, paths, env } = await setup(t);
    await writeFile(paths.caPath, ca.certPem + ca.certPem);
    const report = await doctor(env);
    const found = only(report, 'TLS_CA_DUPLICATE');
    assert.equal(found.subject, paths.caPath);
    assert.match(found.message, /certificate #2 of .* \(CN=Doctor CA\) is a copy of certificate #1/);
    assert.deepEqual(codes(report), ['TLS_CA_DUPLICATE']);
    assert.equal(exit(report), 2);
  });

  test('a CA ending within the warning window → TLS_CA_EXPIRES_SOON', async (t) => {
    const dir = await tempDir(t, 'tessera-doctor-');
    const ca = await createTestCa('Ending CA', { notAfter: new Date(Date.now() + 20 * DAY_MS) });
    const paths = await writeMaterial(dir, 'node', await ca.issue('node'), ca.certPem);
    const report = await doctor(nodeEnv(paths, testUri('node'), join(dir, 'data')));
    assert.deepEqual(codes(report), ['TLS_CA_EXPIRES_SOON']);
    assert.match(only(report, 'TLS_CA_EXPIRES_SOON').message, /^CA CN=Ending CA in .* expires .* in 19 days/);
    assert.equal(exit(report), 2);
  });

  test('a leaf certificate in the bundle → TLS_CA_NOT_A_CA; a bundle others may write → TLS_FILE_WRITABLE', async (t) => {
    const { ca, paths, env } = await setup(t);
    const stray = await ca.issue('stray');
    await writeFile(paths.caPath, ca.certPem + stray.certPem);
    await chmod(paths.caPath, 0o666);
    const report = await doctor(env);
    assert.deepEqual(codes(report).sort(), ['TLS_CA_NOT_A_CA', 'TLS_FILE_WRITABLE']);
    assert.match(only(report, 'TLS_FILE_WRITABLE').message, /mode 0666: writable by its group and others/);
  });
});

describe('tessera doctor: settings', () => {
  test('a TESSERA_ name and its STIGMEM_ alias set differently → SETTINGS_ALIAS_CONFLICT, a finding, not a throw', async (t) => {
    const { env } = await setup(t);
    const report = await doctor({
      ...env,
      STIGMEM_TLS_CA_BUNDLE: '/elsewhere/ca.crt',
      TESSERA_API_PORT: '99999',
    });
    assert.deepEqual(codes(report), ['SETTINGS_INVALID', 'SETTINGS_ALIAS_CONFLICT']);
    const conflict = only(report, 'SETTINGS_ALIAS_CONFLICT');
    assert.equal(conflict.subject, 'TESSERA_TLS_CA_BUNDLE');
    assert.match(conflict.message, /TESSERA_TLS_CA_BUNDLE and STIGMEM_TLS_CA_BUNDLE name the same setting/);
    assert.doesNotMatch(conflict.message, /elsewhere/, 'values are not echoed');
    assert.match(
      only(report, 'SETTINGS_INVALID').message,
      /TESSERA_API_PORT \(--api-port\) must be a port number/,
    );
    assert.equal(exit(report), 1);
  });

  test('the insecure gate refusing → its TLS_* code; insecure dev mode accepted → FEDERATION_INSECURE (warning)', async (t) => {
    const dir = await tempDir(t, 'tessera-doctor-');
    const base = {
      TESSERA_DATA_DIR: dir,
      TESSERA_ENTITY_URI: testUri('node'),
      TESSERA_FEDERATION_INSECURE: '1',
    };
    const refused = await doctor({ ...base, TESSERA_FEDERATION_HOST: '0.0.0.0' });
    assert.deepEqual(codes(refused), ['TLS_INSECURE_REFUSED']);
    const insecure = await doctor(base);
    assert.deepEqual(codes(insecure), ['FEDERATION_INSECURE']);
    assert.equal(exit(insecure), 2);
  });
});

describe('tessera doctor: peers', () => {
  test("--peer-cert: ours → accepted; another CA's → PEER_CERT_UNTRUSTED; serverAuth only → refused when it dials us, clientAuth only when we dial it", async (t) => {
    const { dir, ca, env } = await setup(t);
    const write = async (name: string, pem: string) => {
      const file = join(dir, name);
      await writeFile(file, pem);
      return file;
    };
    const good = await write('good.crt', (await ca.issue('peer')).chainPem);
    const accepted = await doctor(env, { peerCert: good, peerUri: testUri('peer') });
    assert.deepEqual(codes(accepted), []);

    const foreign = await write(
      'foreign.crt',
      (await (await createTestCa('Foreign CA')).issue('peer')).chainPem,
    );
    const untrusted = await doctor(env, { peerCert: foreign });
    const found = only(untrusted, 'PEER_CERT_UNTRUSTED');
    assert.equal(found.subject, foreign);
    assert.match(
      found.message,
      /either way \(cert_untrusted\): CN=peer \(issuer CN=Foreign CA\) does not chain/,
    );
    assert.equal(exit(untrusted), 1);

    const serverOnly = await write(
      'server-only.crt',
      (await ca.issue('peer', { extendedKeyUsages: ['serverAuth'] })).certPem,
    );
    const eku = await doctor(env, { peerCert: serverOnly, peerUri: testUri('peer') });
    assert.deepEqual(codes(eku), ['PEER_CERT_WRONG_PURPOSE']);
    assert.match(
      only(eku, 'PEER_CERT_WRONG_PURPOSE').message,
      /when it connects to us \(cert_wrong_purpose\): .*clientAuth/,
    );
    const clientOnly = await write(
      'client-only.crt',
      (await ca.issue('peer', { extendedKeyUsages: ['clientAuth'] })).certPem,
    );
    const noServerAuth = await doctor(env, { peerCert: clientOnly, peerUri: testUri('peer') });
    assert.deepEqual(codes(noServerAuth), ['PEER_EKU_MISSING']);
    assert.match(
      only(noServerAuth, 'PEER_EKU_MISSING').message,
      /when we connect to it \(eku_missing\): .*serverAuth/,
    );

    const wrongUri = await doctor(env, { peerCert: good, peerUri: testUri('someone-else') });
    assert.deepEqual(codes(wrongUri), ['PEER_URI_MISMATCH']);

    const noUri = await write('no-uri.crt', (await ca.issue('peer', { uris: [] })).certPem);
    assert.deepEqual(codes(await doctor(env, { peerCert: noUri })), ['PEER_NO_URI_SAN']);

    const der = await write('peer.der', 'not a certificate');
    assert.deepEqual(codes(await doctor(env, { peerCert: der })), ['PEER_CERT_UNREADABLE']);
  });

  test('--peer-url against a real mTLS server that accepts us → no finding', async (t) => {
    const { dir, ca, env } = await setup(t);
    const serverPaths = await writeMaterial(dir, 'server', await ca.issue('server'), ca.certPem);
    const server = await startTestServer(serverPaths, exactUri(testUri('node')));
    t.after(() => server.close());
    const report = await doctor(env, { peerUrl: server.origin, peerUri: testUri('server') });
    assert.deepEqual(toJson(report).findings, []);
    assert.equal(exit(report), 0);
    assert.equal(server.rejections.length, 0);
  });

  test('--peer-url against a server whose rules refuse us → PEER_REFUSED_US; a wrong --peer-uri → PEER_URI_MISMATCH', async (t) => {
    const { dir, ca, env } = await setup(t);
    const serverPaths = await writeMaterial(dir, 'server', await ca.issue('server'), ca.certPem);
    const server = await startTestServer(serverPaths, exactUri(testUri('someone-else')));
    t.after(() => server.close());
    const report = await doctor(env, { peerUrl: server.origin, peerUri: testUri('impostor') });
    assert.deepEqual(codes(report), ['PEER_URI_MISMATCH', 'PEER_REFUSED_US']);
    assert.match(
      only(report, 'PEER_REFUSED_US').message,
      /closed the connection after seeing our certificate/,
    );
    assert.match(
      only(report, 'PEER_URI_MISMATCH').message,
      /expected URI SAN spiffe:\/\/test\.example\/node\/impostor/,
    );
    assert.equal(server.rejections[0]?.reason, 'uri_mismatch', "the server's own reason for refusing us");
  });

  test('--peer-url against a server of another CA → PEER_CERT_UNTRUSTED both ways, and it refuses us too', async (t) => {
    const { env } = await setup(t);
    const foreign = await createTestCa('Foreign CA');
    const serverDir = await tempDir(t, 'tessera-doctor-peer-');
    const serverPaths = await writeMaterial(
      serverDir,
      'server',
      await foreign.issue('server'),
      foreign.certPem,
    );
    const server = await startTestServer(serverPaths, exactUri(testUri('node')));
    t.after(() => server.close());
    const report = await doctor(env, { peerUrl: server.origin, peerUri: testUri('server') });
    assert.deepEqual(codes(report), ['PEER_CERT_UNTRUSTED', 'PEER_REFUSED_US']);
    assert.match(only(report, 'PEER_CERT_UNTRUSTED').message, /either way \(cert_untrusted\): OpenSSL: /);
    assert.match(only(report, 'PEER_REFUSED_US').message, /the two sides likely use different CAs/);
    assert.equal(server.rejections[0]?.reason, 'cert_untrusted', "the server's own reason for refusing us");
  });

  test('--peer-url where nothing listens → PEER_UNREACHABLE', async (t) => {
    const { dir, ca, env } = await setup(t);
    const serverPaths = await writeMaterial(dir, 'server', await ca.issue('server'), ca.certPem);
    const server = await startTestServer(serverPaths, exactUri(testUri('node')));
    const origin = server.origin;
    await server.close();
    const report = await doctor(env, { peerUrl: origin });
    assert.deepEqual(codes(report), ['PEER_UNREACHABLE']);
    assert.match(only(report, 'PEER_UNREACHABLE').message, /ECONNREFUSED/);
  });
});
