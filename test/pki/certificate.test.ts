// buildCertificate is non-validating on purpose: the TLS tests rely on each of these knobs producing
// exactly the (bad) certificate asked for.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { buildCertificate } from '../../src/pki/certificate.ts';
import { generateKeyPair } from '../../src/pki/keys.ts';
import {
  EKU_CLIENT_AUTH,
  EKU_SERVER_AUTH,
  parseCertificate,
  pemCertificatesToDer,
  x509,
} from '../../src/tls/x509.ts';
import { verifyPurpose } from '../support/openssl.ts';
import { tempDir } from '../support/pki.ts';

const DAY_MS = 86_400_000;

function parse(pem: string) {
  return parseCertificate(pemCertificatesToDer(pem)[0]!);
}

async function makeCa(algo: 'ed25519' | 'p256' = 'p256') {
  const ca = await buildCertificate({ subjectCN: 'Test CA', isCa: true, algo });
  return { certPem: ca.certPem, keyPem: ca.keyPem };
}

test('defaults: a CA without EKU, a leaf with both EKUs, key usages, SKI/AKI and a chain', async () => {
  const ca = await makeCa();
  const leaf = await buildCertificate({ subjectCN: 'n', issuer: ca, uris: ['spiffe://t/n'] });
  const caInfo = parse(ca.certPem);
  const leafInfo = parse(leaf.certPem);
  assert.equal(caInfo.isCa, true);
  assert.equal(caInfo.extendedKeyUsages, null);
  assert.equal(leafInfo.isCa, false);
  assert.deepEqual(leafInfo.extendedKeyUsages, [EKU_SERVER_AUTH, EKU_CLIENT_AUTH]);
  assert.equal(leafInfo.issuer, 'CN=Test CA');
  assert.equal(leafInfo.subject, 'CN=n');
  assert.equal(leaf.chainPem, leaf.certPem + ca.certPem);
  const cert = new x509.X509Certificate(leafInfo.der);
  const ku = cert.getExtension(x509.KeyUsagesExtension)!;
  assert.equal(ku.usages, x509.KeyUsageFlags.digitalSignature);
  assert.equal(ku.critical, true);
  const caSki = new x509.X509Certificate(caInfo.der).getExtension(x509.SubjectKeyIdentifierExtension)!.keyId;
  assert.equal(cert.getExtension(x509.AuthorityKeyIdentifierExtension)!.keyId, caSki);
  // Validity defaults: starts 5 minutes back (clock skew), lasts 90 days from there.
  const skew = Date.now() - leafInfo.notBefore.getTime();
  assert.ok(skew > 4 * 60_000 && skew < 6 * 60_000, `notBefore skew ${skew} ms`);
  assert.equal(leafInfo.notAfter.getTime() - leafInfo.notBefore.getTime(), 90 * DAY_MS);
  // Positive 16-byte serial (no sign byte needed).
  assert.match(leafInfo.serial, /^[4-7][0-9a-f]{31}$/);
});

test('the issuer key decides the signature algorithm (Ed25519 CA, P-256 leaf and the reverse)', async () => {
  for (const [caAlgo, leafAlgo] of [
    ['ed25519', 'p256'],
    ['p256', 'ed25519'],
  ] as const) {
    const ca = await makeCa(caAlgo);
    const leaf = await buildCertificate({ subjectCN: 'n', issuer: ca, algo: leafAlgo });
    const caCert = new X509Certificate(ca.certPem);
    const leafCert = new X509Certificate(leaf.certPem);
    assert.ok(leafCert.verify(caCert.publicKey), `${caAlgo} CA signature over ${leafAlgo} leaf`);
    assert.equal(leafCert.publicKey.asymmetricKeyType, leafAlgo === 'ed25519' ? 'ed25519' : 'ec');
  }
});

test('expired and not-yet-valid certificates are built as asked', async () => {
  const ca = await makeCa();
  const now = Date.now();
  const expired = await buildCertificate({
    subjectCN: 'old',
    issuer: ca,
    notBefore: new Date(now - 10 * DAY_MS),
    notAfter: new Date(now - DAY_MS),
  });
  const future = await buildCertificate({
    subjectCN: 'new',
    issuer: ca,
    notBefore: new Date(now + DAY_MS),
    notAfter: new Date(now + 10 * DAY_MS),
  });
  assert.ok(parse(expired.certPem).notAfter.getTime() < now);
  assert.ok(parse(future.certPem).notBefore.getTime() > now);
  // X.509 times have one-second resolution.
  assert.equal(parse(future.certPem).notBefore.getTime(), Math.floor((now + DAY_MS) / 1000) * 1000);
});

test('extendedKeyUsages: serverAuth only, and null omits the extension', async (t) => {
  const dir = await tempDir(t);
  const ca = await makeCa();
  const serverOnly = await buildCertificate({
    subjectCN: 's',
    issuer: ca,
    extendedKeyUsages: ['serverAuth'],
  });
  const none = await buildCertificate({ subjectCN: 'x', issuer: ca, extendedKeyUsages: null });
  assert.deepEqual(parse(serverOnly.certPem).extendedKeyUsages, [EKU_SERVER_AUTH]);
  assert.equal(parse(none.certPem).extendedKeyUsages, null);
  // OpenSSL agrees: a serverAuth-only leaf is refused as a client.
  const caPath = join(dir, 'ca.crt');
  const leafPath = join(dir, 's.crt');
  await writeFile(caPath, ca.certPem);
  await writeFile(leafPath, serverOnly.certPem);
  assert.equal((await verifyPurpose(caPath, leafPath, 'sslserver')).code, 0);
  const asClient = await verifyPurpose(caPath, leafPath, 'sslclient');
  assert.notEqual(asClient.code, 0);
  // OpenSSL 3.0 says "unsuitable certificate purpose" (X509_V_ERR_INVALID_PURPOSE, error 26).
  assert.match(asClient.stdout + asClient.stderr, /unsuitable certificate purpose/);
});

test('isCa on a certificate signed by a CA (a CA used as a leaf)', async () => {
  const ca = await makeCa();
  const caLeaf = await buildCertificate({
    subjectCN: 'sub',
    issuer: ca,
    isCa: true,
    pathLength: 0,
    uris: ['spiffe://t/sub'],
    extendedKeyUsages: ['serverAuth', 'clientAuth'],
  });
  const info = parse(caLeaf.certPem);
  assert.equal(info.isCa, true);
  assert.deepEqual(info.uris, ['spiffe://t/sub']);
  assert.deepEqual(info.extendedKeyUsages, [EKU_SERVER_AUTH, EKU_CLIENT_AUTH]);
  const cert = new x509.X509Certificate(info.der);
  assert.equal(cert.getExtension(x509.BasicConstraintsExtension)!.pathLength, 0);
  assert.equal(
    cert.getExtension(x509.KeyUsagesExtension)!.usages,
    x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign,
  );
});

test('self-signed leaf: subject = issuer, not a CA, both EKUs, chain is just the certificate', async () => {
  const leaf = await buildCertificate({ subjectCN: 'selfie', uris: ['spiffe://t/selfie'], algo: 'ed25519' });
  const info = parse(leaf.certPem);
  assert.equal(info.subject, 'CN=selfie');
  assert.equal(info.issuer, 'CN=selfie');
  assert.equal(info.selfIssued, true);
  assert.equal(info.isCa, false);
  assert.deepEqual(info.extendedKeyUsages, [EKU_SERVER_AUTH, EKU_CLIENT_AUTH]);
  assert.equal(leaf.chainPem, leaf.certPem);
  const cert = new X509Certificate(leaf.certPem);
  assert.ok(cert.verify(cert.publicKey));
});

test('a raw URI SAN containing ", URI:" round-trips as ONE typed entry', async () => {
  const ca = await makeCa();
  const hostile = 'spiffe://t/node/a, URI:spiffe://t/admin';
  const leaf = await buildCertificate({
    subjectCN: 'h',
    issuer: ca,
    uris: [hostile],
    dnsNames: ['a'],
    ips: ['::1'],
  });
  const info = parse(leaf.certPem);
  assert.deepEqual(info.uris, [hostile]);
  assert.deepEqual(info.dnsNames, ['a']);
  assert.deepEqual(info.ips, ['::1']);
  // Node's text rendering is where the confusion would come from; the typed parse is unaffected.
  assert.match(new X509Certificate(leaf.certPem).subjectAltName ?? '', /admin/);
});

test('keyPair and serial are used as given', async () => {
  const keyPair = await generateKeyPair('p256');
  const a = await buildCertificate({ subjectCN: 'a', keyPair, serial: '0102030405' });
  const b = await buildCertificate({ subjectCN: 'b', keyPair });
  assert.equal(parse(a.certPem).spkiSha256, parse(b.certPem).spkiSha256);
  assert.equal(a.keyPem, b.keyPem);
  assert.equal(parse(a.certPem).serial, '0102030405');
  assert.equal(a.keyPair, keyPair);
});
