// `tessera doctor` on CRLs (TESSERA_TLS_CRL_PATH): a current CRL of our CA → no finding; a stale one →
// TLS_CRL_STALE (error), one due inside the warning window → TLS_CRL_NEAR_STALE (warning); a CRL of a CA not
// in the bundle → TLS_CRL_ISSUER_UNKNOWN, a forged one → TLS_CRL_SIGNATURE; and a peer certificate checked
// against our CRLs: revoked → PEER_CERT_REVOKED naming its serial, of a CA with a stale CRL → PEER_CRL_STALE.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { runDoctor } from '../../../src/node/doctor/doctor.ts';
import { type DoctorReport, exitCodeOf, summarize, toJson } from '../../../src/node/doctor/finding.ts';
import { serialOf, writeCrl } from '../../support/crl.ts';
import { createTestCa, DAY_MS, tempDir, testUri, writeMaterial } from '../../support/pki.ts';

async function setup(t: Parameters<typeof tempDir>[0]) {
  const dir = await tempDir(t, 'tessera-doctor-crl-');
  const ca = await createTestCa('Doctor CA');
  const paths = await writeMaterial(dir, 'node', await ca.issue('node'), ca.certPem);
  const crlPath = join(dir, 'ca.crl');
  const env = {
    TESSERA_DATA_DIR: join(dir, 'data'),
    TESSERA_ENTITY_URI: testUri('node'),
    TESSERA_TLS_CERT_PATH: paths.certPath,
    TESSERA_TLS_KEY_PATH: paths.keyPath,
    TESSERA_TLS_CA_BUNDLE: paths.caPath,
    TESSERA_TLS_CRL_PATH: crlPath,
  };
  return { dir, ca, paths, crlPath, env };
}

const findings = (report: DoctorReport) => toJson(report).findings;
const codes = (report: DoctorReport) => findings(report).map((f) => f.code);

test('a current CRL of our CA: no finding, exit 0', async (t) => {
  const { ca, crlPath, env } = await setup(t);
  await writeCrl(crlPath, ca, [], { nextUpdate: new Date(Date.now() + 60 * DAY_MS) });
  const report = await runDoctor({ flags: {}, env });
  assert.deepEqual(codes(report), []);
  assert.equal(exitCodeOf(summarize(report)), 0);
});

test('a stale CRL → TLS_CRL_STALE (error); one due within the warning window → TLS_CRL_NEAR_STALE (warning)', async (t) => {
  const { ca, crlPath, env } = await setup(t);
  await writeCrl(crlPath, ca, [], { stale: true });
  const stale = await runDoctor({ flags: {}, env });
  assert.deepEqual(codes(stale), ['TLS_CRL_STALE']);
  assert.match(findings(stale)[0]?.message ?? '', /every peer of that CA is refused \(crl_stale\)/);
  assert.equal(findings(stale)[0]?.subject, crlPath);
  assert.equal(exitCodeOf(summarize(stale)), 1);

  await writeCrl(crlPath, ca, [], { nextUpdate: new Date(Date.now() + 3 * DAY_MS) });
  const near = await runDoctor({ flags: {}, env });
  assert.deepEqual(codes(near), ['TLS_CRL_NEAR_STALE']);
  assert.equal(exitCodeOf(summarize(near)), 2);
});

test('a CRL of a CA not in the bundle → TLS_CRL_ISSUER_UNKNOWN; a forged one → TLS_CRL_SIGNATURE; garbage → TLS_CRL_INVALID', async (t) => {
  const { crlPath, env } = await setup(t);
  await writeCrl(crlPath, await createTestCa('Stranger CA'), []);
  assert.deepEqual(codes(await runDoctor({ flags: {}, env })), ['TLS_CRL_ISSUER_UNKNOWN']);
  await writeCrl(crlPath, await createTestCa('Doctor CA'), []);
  const forged = await runDoctor({ flags: {}, env });
  assert.deepEqual(codes(forged), ['TLS_CRL_SIGNATURE']);
  assert.ok(findings(forged)[0]?.fix.length);
  await writeFile(crlPath, 'not a CRL at all');
  assert.deepEqual(codes(await runDoctor({ flags: {}, env })), ['TLS_CRL_INVALID']);
});

test('--peer-cert against our CRLs: revoked → PEER_CERT_REVOKED with the serial; stale CRL → PEER_CRL_STALE', async (t) => {
  const { dir, ca, crlPath, env } = await setup(t);
  const bob = await ca.issue('bob');
  const alice = await ca.issue('alice');
  const bobFile = join(dir, 'bob.crt');
  const aliceFile = join(dir, 'alice.crt');
  await writeFile(bobFile, bob.chainPem);
  await writeFile(aliceFile, alice.chainPem);
  await writeCrl(crlPath, ca, [bob], { nextUpdate: new Date(Date.now() + 60 * DAY_MS) });

  const revoked = await runDoctor({ flags: {}, env, peerCert: bobFile });
  assert.deepEqual(codes(revoked), ['PEER_CERT_REVOKED']);
  assert.match(
    findings(revoked)[0]?.message ?? '',
    new RegExp(`\\(cert_revoked\\): peer certificate serial ${serialOf(bob)}`),
  );
  assert.deepEqual(codes(await runDoctor({ flags: {}, env, peerCert: aliceFile })), []);

  await writeCrl(crlPath, ca, [], { stale: true });
  assert.deepEqual(codes(await runDoctor({ flags: {}, env, peerCert: aliceFile })), [
    'TLS_CRL_STALE',
    'PEER_CRL_STALE',
  ]);
  const warn = await runDoctor({
    flags: {},
    env: { ...env, TESSERA_TLS_CRL_STALE: 'warn' },
    peerCert: aliceFile,
  });
  assert.deepEqual(codes(warn), ['TLS_CRL_STALE'], 'under warn the peer itself is accepted');
  assert.match(findings(warn)[0]?.message ?? '', /accepted only because TESSERA_TLS_CRL_STALE=warn/);
});
