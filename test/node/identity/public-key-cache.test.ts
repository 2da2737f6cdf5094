// The shared cache of parsed peer public keys: the same KeyObject for the same raw key, and bounded, since
// the raw keys come from peers.
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { test } from 'node:test';
import { PublicKeyCache } from '../../../src/node/features/identity/public-key-cache.ts';

function rawKey(): string {
  return generateKeyPairSync('ed25519').publicKey.export({ format: 'jwk' }).x as string;
}

test('returns one parsed key per raw key', () => {
  const cache = new PublicKeyCache();
  const raw = rawKey();
  const key = cache.get(raw);
  assert.equal(key.asymmetricKeyType, 'ed25519');
  assert.equal(key.export({ format: 'jwk' }).x, raw);
  assert.equal(cache.get(raw), key);
});

test('drops the least recently used key past its bound', () => {
  const cache = new PublicKeyCache(2);
  const [a, b, c] = [rawKey(), rawKey(), rawKey()];
  const keyA = cache.get(a);
  const keyB = cache.get(b);
  assert.equal(cache.get(a), keyA); // a is now the most recent use
  cache.get(c); // evicts b
  assert.equal(cache.get(a), keyA);
  assert.notEqual(cache.get(b), keyB, 'b was dropped and parsed again');
});

test('rejects a malformed key like publicKeyFromRaw', () => {
  assert.throws(() => new PublicKeyCache().get('not-a-key'));
});
