// The signed manifest: a sign/verify round trip over RFC 8785 canonical JSON, and every way a manifest can
// lie or age refused with its own code.
import assert from 'node:assert/strict';
import { createPublicKey, sign, verify } from 'node:crypto';
import { describe, test } from 'node:test';
import canonicalizeModule from 'canonicalize';
import {
  buildManifest,
  MANIFEST_SKEW_MS,
  ManifestError,
  opensslFingerprint,
  type SignedManifest,
  verifyManifest,
} from '../../../src/node/features/identity/manifest.ts';
import { loadOrCreateNodeKey, type NodeKey } from '../../../src/node/features/identity/node-key.ts';
import { testUri } from '../../support/pki.ts';

const NOW = new Date('2030-01-02T03:04:05.000Z');
const HOUR = 3_600_000;
const SPKI = 'a'.repeat(64);

// Seeds rather than files: these tests are about the manifest, not the key store.
const keyFromSeed = (byte: number): Promise<NodeKey> =>
  loadOrCreateNodeKey({
    dataDir: '/nonexistent',
    privateKeyB64: Buffer.alloc(32, byte).toString('base64url'),
  });

const jcs = canonicalizeModule as unknown as (value: unknown) => string;

/** Signs arbitrary content the way a (possibly hostile) signer would. */
const signRaw = (unsigned: object, key: NodeKey): string =>
  sign(null, Buffer.from(jcs(unsigned)), key.privateKey).toString('base64url');

function expectCode(run: () => unknown, code: string): ManifestError {
  try {
    run();
  } catch (error) {
    assert.ok(error instanceof ManifestError, `expected ManifestError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    return error;
  }
  assert.fail(`expected ${code}, but the manifest verified`);
}

describe('node manifest', () => {
  test('round trip: the signature is Ed25519 over the JCS of every field but signature', async () => {
    const key = await keyFromSeed(1);
    const manifest = buildManifest({ nodeKey: key, entityUri: testUri('a'), tlsSpkiSha256: SPKI, now: NOW });
    assert.deepEqual(Object.keys(manifest).sort(), [
      'entity_uri',
      'expires_at',
      'issued_at',
      'key_id',
      'public_key',
      'rotation_events',
      'signature',
      'tls_spki_sha256',
    ]);
    assert.equal(manifest.key_id, key.keyId);
    assert.equal(manifest.public_key, key.publicKeyB64);
    assert.equal(manifest.issued_at, '2030-01-02T03:04:05.000Z');
    assert.equal(manifest.expires_at, '2030-01-03T03:04:05.000Z', 'default TTL 24 h');
    assert.deepEqual(manifest.rotation_events, []);
    assert.deepEqual(verifyManifest(manifest, { now: NOW }), manifest);

    // Independently of our code: canonicalize + node:crypto verify with the advertised raw key.
    const { signature, ...rest } = manifest;
    const publicKey = createPublicKey({
      key: { kty: 'OKP', crv: 'Ed25519', x: manifest.public_key },
      format: 'jwk',
    });
    assert.ok(verify(null, Buffer.from(jcs(rest)), publicKey, Buffer.from(signature, 'base64url')));

    // Key order on the wire does not matter: JCS sorts.
    const reordered = Object.fromEntries(Object.entries(manifest).reverse());
    assert.deepEqual(verifyManifest(JSON.parse(JSON.stringify(reordered)), { now: NOW }), manifest);
  });

  test('tampering with any signed field → signature_invalid', async () => {
    const key = await keyFromSeed(2);
    const other = await keyFromSeed(3);
    const manifest = buildManifest({ nodeKey: key, entityUri: testUri('a'), tlsSpkiSha256: SPKI, now: NOW });
    const tampered: Record<keyof Omit<SignedManifest, 'signature'>, unknown> = {
      entity_uri: testUri('mallory'),
      key_id: other.keyId,
      public_key: other.publicKeyB64,
      issued_at: '2030-01-02T03:04:06.000Z',
      expires_at: '2031-01-03T03:04:05.000Z',
      tls_spki_sha256: 'b'.repeat(64),
      tls_cert_fingerprint: opensslFingerprint('c'.repeat(64)),
      rotation_events: [{ note: 'injected' }],
      issuer_key_id: other.keyId,
      issuer_public_key: other.publicKeyB64,
      endpoints: { grpc: 'mallory.example:8766' },
    };
    for (const [field, value] of Object.entries(tampered)) {
      const error = expectCode(
        () => verifyManifest({ ...manifest, [field]: value }, { now: NOW }),
        'signature_invalid',
      );
      assert.ok(error.unverified, `${field}: the claimed manifest is attached for display`);
    }
    // Another key's valid signature over this very content.
    const foreign = buildManifest({ nodeKey: other, entityUri: testUri('a'), tlsSpkiSha256: SPKI, now: NOW });
    expectCode(
      () => verifyManifest({ ...manifest, signature: foreign.signature }, { now: NOW }),
      'signature_invalid',
    );
  });

  test('tls_cert_fingerprint: signed in openssl form when given; optional on input (older peers send none)', async () => {
    const key = await keyFromSeed(12);
    const cert = 'ab'.repeat(32);
    const manifest = buildManifest({
      nodeKey: key,
      entityUri: testUri('a'),
      tlsSpkiSha256: SPKI,
      tlsCertSha256: cert,
      now: NOW,
    });
    assert.equal(manifest.tls_cert_fingerprint, Array(32).fill('AB').join(':'));
    assert.deepEqual(verifyManifest(manifest, { now: NOW }), manifest);
    const without = buildManifest({ nodeKey: key, entityUri: testUri('a'), tlsSpkiSha256: SPKI, now: NOW });
    assert.ok(!('tls_cert_fingerprint' in without));
    assert.deepEqual(verifyManifest(without, { now: NOW }), without);
    const { signature: _, ...unsigned } = manifest;
    for (const bad of ['ab'.repeat(32), Array(32).fill('ab').join(':'), 'AB:CD']) {
      const error = expectCode(
        () =>
          verifyManifest(
            { ...unsigned, tls_cert_fingerprint: bad, signature: manifest.signature },
            { now: NOW },
          ),
        'manifest_malformed',
      );
      assert.match(error.message, /^tls_cert_fingerprint: /);
    }
  });

  test('a key_id that is not derived from public_key → key_id_mismatch, even when correctly signed', async () => {
    const key = await keyFromSeed(4);
    const lying = buildManifest({
      nodeKey: { ...key, keyId: '0123456789abcdef' },
      entityUri: testUri('a'),
      tlsSpkiSha256: SPKI,
      now: NOW,
    });
    const error = expectCode(() => verifyManifest(lying, { now: NOW }), 'key_id_mismatch');
    assert.match(error.message, new RegExp(`expected ${key.keyId}`));
  });

  test('validity: expired → manifest_expired, future → manifest_not_yet_valid, small skew tolerated', async () => {
    const key = await keyFromSeed(5);
    const manifest = buildManifest({
      nodeKey: key,
      entityUri: testUri('a'),
      tlsSpkiSha256: SPKI,
      now: NOW,
      ttlSeconds: 3600,
    });
    const at = (ms: number) => ({ now: new Date(NOW.getTime() + ms) });
    verifyManifest(manifest, at(HOUR + MANIFEST_SKEW_MS - 1));
    verifyManifest(manifest, at(-MANIFEST_SKEW_MS + 1));
    const expired = expectCode(
      () => verifyManifest(manifest, at(HOUR + MANIFEST_SKEW_MS + 1)),
      'manifest_expired',
    );
    assert.match(expired.message, /2030-01-02T04:04:05.000Z/);
    expectCode(() => verifyManifest(manifest, at(-MANIFEST_SKEW_MS - 1)), 'manifest_not_yet_valid');
  });

  test('expected entity URI and public key are enforced', async () => {
    const key = await keyFromSeed(6);
    const other = await keyFromSeed(7);
    const manifest = buildManifest({ nodeKey: key, entityUri: testUri('a'), tlsSpkiSha256: SPKI, now: NOW });
    verifyManifest(manifest, {
      now: NOW,
      expectedEntityUri: testUri('a'),
      expectedPublicKey: key.publicKeyB64,
    });
    const entity = expectCode(
      () => verifyManifest(manifest, { now: NOW, expectedEntityUri: testUri('b') }),
      'entity_mismatch',
    );
    assert.match(entity.message, /node\/a.*node\/b/);
    expectCode(
      () => verifyManifest(manifest, { now: NOW, expectedPublicKey: other.publicKeyB64 }),
      'public_key_mismatch',
    );
  });

  test('anything that is not exactly a manifest → manifest_malformed naming the field', async () => {
    const key = await keyFromSeed(8);
    const manifest = buildManifest({ nodeKey: key, entityUri: testUri('a'), tlsSpkiSha256: SPKI, now: NOW });
    const { signature: _signature, ...unsigned } = manifest;
    const cases: [unknown, RegExp][] = [
      [null, /manifest/],
      ['a string', /manifest/],
      [unsigned, /signature/],
      [{ ...manifest, extra: 1 }, /extra|unrecognized/i],
      [{ ...manifest, public_key: `${manifest.public_key}A` }, /public_key/],
      [{ ...manifest, signature: manifest.signature.slice(1) }, /signature/],
      [{ ...manifest, issued_at: 'yesterday' }, /issued_at/],
      [{ ...manifest, key_id: 'ABCDEF0123456789' }, /key_id/],
      [{ ...manifest, tls_spki_sha256: 'zz' }, /tls_spki_sha256/],
      [{ ...manifest, entity_uri: 'not a uri' }, /entity_uri/],
    ];
    for (const [input, where] of cases) {
      const error = expectCode(() => verifyManifest(input, { now: NOW }), 'manifest_malformed');
      assert.match(error.message, where);
    }
    // expires_at before issued_at, correctly signed: structurally wrong, whoever signed it.
    const backwards = { ...unsigned, expires_at: '2029-01-01T00:00:00.000Z' };
    const error = expectCode(
      () => verifyManifest({ ...backwards, signature: signRaw(backwards, key) }, { now: NOW }),
      'manifest_malformed',
    );
    assert.match(error.message, /expires_at is not after issued_at/);
  });
});
