// verifyPeerCertificate: the core's judgement of a certificate that did not arrive in our own handshake (a
// proxy forwarded it). Paths through intermediates sent beside the leaf, and every refusal with the reason
// a direct connection would be refused with.
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { buildCertificate, type IssuedCertificate } from '../../src/pki/certificate.ts';
import { verifyPeerCertificate } from '../../src/tls/verify-peer.ts';
import { type ParsedCertificate, parseCertificate, pemCertificatesToDer } from '../../src/tls/x509.ts';
import { createTestCa, DAY_MS, type TestCa, testUri } from '../support/pki.ts';

const der = (pem: string) => pemCertificatesToDer(pem)[0] as Buffer;
let root: TestCa;
let cas: ParsedCertificate[];
let intermediate: IssuedCertificate;
let leaf: IssuedCertificate;

before(async () => {
  root = await createTestCa('Verify root');
  cas = [parseCertificate(der(root.certPem))];
  intermediate = await buildCertificate({
    subjectCN: 'Verify intermediate',
    isCa: true,
    issuer: { certPem: root.certPem, keyPem: root.keyPem },
  });
  leaf = await buildCertificate({
    subjectCN: 'client',
    uris: [testUri('client')],
    extendedKeyUsages: ['clientAuth'],
    issuer: { certPem: intermediate.certPem, keyPem: intermediate.keyPem },
  });
});

const judge = (
  leafPem: string,
  chain: string[] = [],
  now = new Date(),
  side: 'server' | 'client' = 'server',
) => verifyPeerCertificate(der(leafPem), chain.map(der), { cas, side, now });

test('a leaf under an intermediate sent beside it verifies, with its identity', () => {
  const verdict = judge(leaf.certPem, [intermediate.certPem]);
  assert.equal(verdict.ok, true);
  assert.deepEqual(verdict.ok && verdict.identity.uris, [testUri('client')]);
});

test('without the intermediate, or with a stranger in its place: cert_untrusted', async () => {
  assert.equal((judge(leaf.certPem) as { reason: string }).reason, 'cert_untrusted');
  const stranger = await createTestCa('Stranger');
  assert.equal((judge(leaf.certPem, [stranger.certPem]) as { reason: string }).reason, 'cert_untrusted');
});

test('validity of every certificate on the path: the leaf, and the intermediate', () => {
  const later = new Date(Date.now() + 200 * DAY_MS);
  assert.equal(
    (judge(leaf.certPem, [intermediate.certPem], later) as { reason: string }).reason,
    'cert_expired',
  );
  const earlier = new Date(Date.now() - 2 * DAY_MS);
  assert.equal(
    (judge(leaf.certPem, [intermediate.certPem], earlier) as { reason: string }).reason,
    'cert_not_yet_valid',
  );
});

test('purpose: clientAuth-only leaf judged as a server is cert_wrong_purpose; garbage is cert_invalid', () => {
  assert.equal(
    (judge(leaf.certPem, [intermediate.certPem], new Date(), 'client') as { reason: string }).reason,
    'cert_wrong_purpose',
  );
  const garbage = verifyPeerCertificate(Buffer.from('not a certificate'), [], {
    cas,
    side: 'server',
    now: new Date(),
  });
  assert.deepEqual(garbage.ok ? null : garbage.reason, 'cert_invalid');
});

test('the revocation hook is asked about each certificate of the path (TODO(crl): CRLs plug in here)', () => {
  const asked: string[] = [];
  const verdict = verifyPeerCertificate(der(leaf.certPem), [der(intermediate.certPem)], {
    cas,
    side: 'server',
    now: new Date(),
    revoked: (cert, issuer) => {
      asked.push(`${cert.subject} <- ${issuer.subject}`);
      return cert.subject.includes('intermediate') ? 'listed on the root CRL' : null;
    },
  });
  assert.deepEqual(verdict.ok ? null : verdict.reason, 'cert_revoked');
  assert.equal(asked.length, 2);
});
