// The bad-TLS matrix, both ways: each broken peer certificate of test/tls/handshake-rejections.test.ts
// really dials a server that admits peers as the federation listener does (the core's rules, then a URI
// SAN), and `tessera doctor --peer-cert` on the same certificate must name the reason that server logged.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { requireUriSan } from '../../../src/node/app/federation-admission.ts';
import { runDoctor } from '../../../src/node/doctor/doctor.ts';
import { toJson } from '../../../src/node/doctor/finding.ts';
import { buildCertificate, type IssuedCertificate } from '../../../src/pki/certificate.ts';
import { writeCrl } from '../../support/crl.ts';
import { createTestCa, DAY_MS, type TestCa, testUri, writeMaterial } from '../../support/pki.ts';
import { rawTlsAttempt, startTestServer, type TestServer } from '../../support/tls-peers.ts';

type Peer = { chainPem: string; keyPem: string };

describe('doctor --peer-cert names the reason a federation listener logs for each broken peer', () => {
  let ca: TestCa;
  let staleCa: TestCa;
  let revokedPeer: IssuedCertificate;
  let dir: string;
  let server: TestServer;
  let env: Record<string, string>;

  before(async () => {
    ca = await createTestCa('Matrix CA');
    staleCa = await createTestCa('Stale CRL CA');
    revokedPeer = await ca.issue('peer');
    // Not tempDir(): an after() registered inside this hook would run as soon as the hook ends.
    dir = await mkdtemp(join(tmpdir(), 'tessera-doctor-matrix-'));
    // Two CAs in the bundle, each with its CRL: Matrix CA's revokes one peer, Stale CRL CA's is past due.
    const paths = await writeMaterial(dir, 'server', await ca.issue('server'), ca.certPem + staleCa.certPem);
    const crlDir = join(dir, 'crls');
    await mkdir(crlDir);
    await writeCrl(join(crlDir, 'matrix.crl'), ca, [revokedPeer], {
      nextUpdate: new Date(Date.now() + 60 * DAY_MS),
    });
    await writeCrl(join(crlDir, 'stale.crl'), staleCa, [], { stale: true });
    server = await startTestServer({ ...paths, crlPath: crlDir }, requireUriSan);
    env = {
      TESSERA_DATA_DIR: join(dir, 'data'),
      TESSERA_ENTITY_URI: testUri('server'),
      TESSERA_TLS_CERT_PATH: paths.certPath,
      TESSERA_TLS_KEY_PATH: paths.keyPath,
      TESSERA_TLS_CA_BUNDLE: paths.caPath,
      TESSERA_TLS_CRL_PATH: crlDir,
    };
  });
  after(async () => {
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** The reason the server recorded for this peer (null: admitted), and doctor's codes for the dial-in side. */
  async function both(name: string, peer: Peer) {
    const rejection = server.nextRejection().catch(() => null);
    const outcome = await rawTlsAttempt(server.port, {
      ca: ca.certPem,
      cert: peer.chainPem,
      key: peer.keyPem,
      send: 'GET /whoami HTTP/1.1\r\nHost: localhost\r\n\r\n',
      holdMs: 2000,
    });
    const admitted = /^HTTP\/1\.1 200 /.test(outcome.received);
    const recorded = admitted ? null : ((await rejection)?.reason ?? 'none recorded');
    const file = join(dir, `${name}.crt`);
    await writeFile(file, peer.chainPem);
    const report = await runDoctor({ flags: {}, env, peerCert: file });
    const dialIn = toJson(report).findings.filter((f) => /either way|when it connects to us/.test(f.message));
    return { recorded, doctor: dialIn.map((f) => f.code), all: toJson(report).findings };
  }

  const cases: [string, () => Promise<Peer>][] = [
    ['from another CA', async () => (await createTestCa('Foreign CA')).issue('peer')],
    [
      'expired',
      () =>
        ca.issue('peer', {
          notBefore: new Date(Date.now() - 30 * DAY_MS),
          notAfter: new Date(Date.now() - DAY_MS),
        }),
    ],
    [
      'not yet valid',
      () =>
        ca.issue('peer', {
          notBefore: new Date(Date.now() + DAY_MS),
          notAfter: new Date(Date.now() + 30 * DAY_MS),
        }),
    ],
    ['without the clientAuth EKU', () => ca.issue('peer', { extendedKeyUsages: ['serverAuth'] })],
    [
      'a CA certificate as the leaf',
      () =>
        buildCertificate({
          subjectCN: 'rogue intermediate',
          isCa: true,
          uris: [testUri('peer')],
          extendedKeyUsages: ['serverAuth', 'clientAuth'],
          issuer: { certPem: ca.certPem, keyPem: ca.keyPem },
        }),
    ],
    ['self-signed', () => buildCertificate({ subjectCN: 'peer', uris: [testUri('peer')] })],
    ['without a URI SAN', () => ca.issue('peer', { uris: [] })],
    ['revoked by its CA’s CRL', async () => revokedPeer],
    ['of a CA whose CRL is past nextUpdate', () => staleCa.issue('peer')],
  ];

  for (const [name, make] of cases) {
    test(`a peer certificate ${name}`, async () => {
      const { recorded, doctor, all } = await both(name.replaceAll(/[^a-z]+/gi, '-'), await make());
      assert.ok(recorded !== null, 'the server refused it');
      assert.deepEqual(doctor, [`PEER_${recorded.toUpperCase()}`], JSON.stringify(all, null, 1));
    });
  }

  test('a good peer certificate: admitted by the server, no finding from doctor', async () => {
    const { recorded, doctor, all } = await both('good', await ca.issue('peer'));
    assert.equal(recorded, null);
    assert.deepEqual(doctor, []);
    // Only the finding this setup made on purpose: our own stale CRL of the second CA.
    assert.deepEqual(
      all.map((f) => f.code),
      ['TLS_CRL_STALE'],
    );
  });
});
