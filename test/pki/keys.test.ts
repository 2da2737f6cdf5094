import assert from 'node:assert/strict';
import { createPublicKey, generateKeyPairSync, webcrypto } from 'node:crypto';
import { test } from 'node:test';
import { PkiError } from '../../src/pki/errors.ts';
import { exportPrivateKeyPem, generateKeyPair, importPrivateKeyPem } from '../../src/pki/keys.ts';

for (const algo of ['ed25519', 'p256'] as const) {
  test(`${algo}: PKCS#8 PEM export and import round-trip, public key derived`, async () => {
    const pair = await generateKeyPair(algo);
    const pem = await exportPrivateKeyPem(pair.privateKey);
    assert.match(pem, /^-----BEGIN PRIVATE KEY-----\n[A-Za-z0-9+/=\n]+\n-----END PRIVATE KEY-----\n$/);
    const imported = await importPrivateKeyPem(pem);
    assert.equal(imported.algo, algo);
    const spki = async (key: webcrypto.CryptoKey) =>
      Buffer.from(await webcrypto.subtle.exportKey('spki', key));
    assert.deepEqual(await spki(imported.publicKey), await spki(pair.publicKey));
    assert.equal(await exportPrivateKeyPem(imported.privateKey), pem);
  });
}

test('reads the SEC1 "EC PRIVATE KEY" form OpenSSL writes', async () => {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const sec1 = privateKey.export({ type: 'sec1', format: 'pem' }).toString();
  const imported = await importPrivateKeyPem(sec1);
  assert.equal(imported.algo, 'p256');
  const expected = createPublicKey(privateKey).export({ type: 'spki', format: 'der' });
  assert.deepEqual(Buffer.from(await webcrypto.subtle.exportKey('spki', imported.publicKey)), expected);
});

test('other key types and garbage are refused with PKI_KEY_INVALID', async () => {
  const p384 = generateKeyPairSync('ec', { namedCurve: 'secp384r1' }).privateKey.export({
    type: 'pkcs8',
    format: 'pem',
  });
  const x25519 = generateKeyPairSync('x25519').privateKey.export({ type: 'pkcs8', format: 'pem' });
  for (const [pem, pattern] of [
    [p384.toString(), /secp384r1/],
    [x25519.toString(), /x25519/],
    ['not a key', /not a readable PEM private key/],
  ] as const) {
    await assert.rejects(importPrivateKeyPem(pem), (error: unknown) => {
      assert.ok(error instanceof PkiError);
      assert.equal(error.code, 'PKI_KEY_INVALID');
      assert.match(error.message, pattern);
      return true;
    });
  }
});
