import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { test } from 'node:test';
import { buildCertificate } from '../../src/pki/certificate.ts';
import { PkiError } from '../../src/pki/errors.ts';
import { formatInspection, inspectCertificates } from '../../src/pki/inspect.ts';
import { pemCertificatesToDer } from '../../src/tls/x509.ts';

const DAY_MS = 86_400_000;

async function chain() {
  const ca = await buildCertificate({ subjectCN: 'Inspect CA', isCa: true, algo: 'ed25519' });
  const leaf = await buildCertificate({
    subjectCN: 'n',
    issuer: { certPem: ca.certPem, keyPem: ca.keyPem },
    uris: ['spiffe://t/node/n', 'urn:example:n'],
    dnsNames: ['localhost'],
    ips: ['127.0.0.1', '::1'],
    serial: '7a01',
  });
  return { ca, leaf };
}

test('a bundle is described certificate by certificate, with typed SANs and hashes', async () => {
  const { ca, leaf } = await chain();
  const now = new Date();
  const [l, c] = inspectCertificates(leaf.chainPem, now);
  assert.ok(l && c);
  assert.equal(l.subject, 'CN=n');
  assert.equal(l.issuer, 'CN=Inspect CA');
  assert.equal(l.serial, '7a01');
  assert.deepEqual(l.sans, {
    uris: ['spiffe://t/node/n', 'urn:example:n'],
    dnsNames: ['localhost'],
    ips: ['127.0.0.1', '::1'],
    emails: [],
  });
  assert.deepEqual(l.extendedKeyUsages, ['serverAuth', 'clientAuth']);
  assert.equal(l.isCa, false);
  assert.equal(l.status, 'valid');
  assert.equal(l.selfSigned, false);
  assert.equal(l.publicKeyAlgorithm, 'Ed25519');
  const nodeLeaf = new X509Certificate(leaf.certPem);
  assert.equal(l.fingerprintSha256, nodeLeaf.fingerprint256.replaceAll(':', '').toLowerCase());
  assert.equal(l.notAfter, new Date(nodeLeaf.validTo).toISOString());
  assert.equal(l.daysLeft, 89.9); // 90 days from notBefore = now - 5 min, floored to one decimal
  assert.equal(c.isCa, true);
  assert.equal(c.selfSigned, true);
  assert.equal(c.extendedKeyUsages, null);
  assert.equal(c.publicKeyAlgorithm, 'Ed25519');
  assert.deepEqual(inspectCertificates(ca.certPem, now), [c]);

  const text = formatInspection([l, c]);
  assert.match(text, /^Certificate 1 of 2\n/);
  assert.match(text, /\nCertificate 2 of 2\n/);
  assert.match(text, /URI SANs: +"spiffe:\/\/t\/node\/n", "urn:example:n"/);
  assert.match(text, /\(self-signed\)/);
  assert.match(formatInspection([c]), /^Certificate\n/);
});

test('DER input, expired and not-yet-valid certificates, daysLeft rounding', async () => {
  const now = Date.now();
  const old = await buildCertificate({
    subjectCN: 'old',
    notBefore: new Date(now - 30 * DAY_MS),
    notAfter: new Date(now - 2.55 * DAY_MS),
  });
  const der = pemCertificatesToDer(old.certPem)[0]!;
  const [info] = inspectCertificates(der, new Date(now));
  assert.equal(info?.subject, 'CN=old');
  assert.equal(info?.daysLeft, -2.6); // floor to one decimal
  assert.match(formatInspection([info!]), /EXPIRED 2\.6 days ago/);
  assert.equal(info?.status, 'expired');

  const future = await buildCertificate({ subjectCN: 'future', notBefore: new Date(now + DAY_MS) });
  const [early] = inspectCertificates(future.certPem, new Date(now));
  assert.equal(early?.status, 'not-yet-valid');
  assert.match(formatInspection([early!]), /days left, NOT YET VALID\)/);
});

test('input without a certificate is refused with PKI_NOT_A_CERTIFICATE', async () => {
  const { leaf } = await chain();
  const cases: [string | Buffer, RegExp][] = [
    [leaf.keyPem, /no PEM CERTIFICATE block \(found PRIVATE KEY\)/],
    ['hello', /no certificate found/],
    [Buffer.from('definitely not DER'), /not a valid X\.509 certificate/],
    ['-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n', /not a valid X\.509 certificate/],
  ];
  for (const [input, pattern] of cases) {
    assert.throws(
      () => inspectCertificates(input),
      (error: unknown) =>
        error instanceof PkiError && error.code === 'PKI_NOT_A_CERTIFICATE' && pattern.test(error.message),
    );
  }
});
