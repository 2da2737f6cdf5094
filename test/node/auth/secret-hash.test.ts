// The token format and the stored scrypt hash: tokens parse only in their exact shape; a secret verifies
// against its own hash and nothing else; every verification, whatever the stored string, is one scrypt.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { newToken, parseToken } from '../../../src/node/features/auth/api-key-token.ts';
import {
  DUMMY_HASH,
  hashSecret,
  SCRYPT_DEFAULTS,
  verifySecret,
} from '../../../src/node/features/auth/secret-hash.ts';
import { countingDerive } from '../../support/node-app.ts';

describe('API key tokens', () => {
  test('a new token is tsk_<12 hex id>_<32 random bytes base64url> and parses back to its parts', () => {
    const { id, secret, token } = newToken();
    assert.match(token, /^tsk_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$/);
    assert.equal(Buffer.from(secret, 'base64url').length, 32);
    assert.deepEqual(parseToken(token), { id, secret });
    assert.notEqual(newToken().token, token);
  });

  test('a secret with _ and - in it still parses (the id is fixed width)', () => {
    const secret = `_-${'a'.repeat(39)}_-`;
    assert.deepEqual(parseToken(`tsk_0123456789ab_${secret}`), { id: '0123456789ab', secret });
  });

  test('anything else is not a token', () => {
    const { token } = newToken();
    for (const bad of [
      '',
      token.slice(0, -1),
      `${token}x`,
      ` ${token}`,
      token.replace('tsk_', 'tsx_'),
      token.replace(/^tsk_[0-9a-f]{12}/, 'tsk_0123456789AB'),
      token.replace(/^tsk_[0-9a-f]{12}/, 'tsk_0123456789a'),
      `${token.slice(0, -1)}=`,
      'Bearer-ish-static-key-of-some-length',
    ])
      assert.equal(parseToken(bad), null, JSON.stringify(bad));
  });
});

describe('scrypt secret hash', () => {
  test('round trip: self-describing scrypt$N$r$p$salt$hash, right secret verifies, wrong one does not', async () => {
    const { secret } = newToken();
    const encoded = await hashSecret(secret);
    const [scheme, n, r, p, salt, hash] = encoded.split('$');
    assert.deepEqual(
      [scheme, Number(n), Number(r), Number(p)],
      ['scrypt', SCRYPT_DEFAULTS.N, SCRYPT_DEFAULTS.r, SCRYPT_DEFAULTS.p],
    );
    assert.equal(SCRYPT_DEFAULTS.N, 2 ** 14);
    assert.equal(Buffer.from(salt as string, 'base64url').length, 16);
    assert.equal(Buffer.from(hash as string, 'base64url').length, 32);
    assert.ok(!encoded.includes(secret), 'the secret is not in its hash');
    assert.equal(await verifySecret(secret, encoded), true);
    assert.equal(await verifySecret(newToken().secret, encoded), false);
    assert.equal(await verifySecret(`${secret.slice(0, -1)}A`, encoded), secret.endsWith('A'));
  });

  test('the same secret hashes differently each time (random salt), and both verify', async () => {
    const { secret } = newToken();
    const [a, b] = [await hashSecret(secret), await hashSecret(secret)];
    assert.notEqual(a, b);
    assert.equal(await verifySecret(secret, a), true);
    assert.equal(await verifySecret(secret, b), true);
  });

  test('a corrupt, hostile or dummy stored string never verifies and still costs exactly one scrypt', async () => {
    const counter = countingDerive();
    const { secret } = newToken();
    const good = await hashSecret(secret);
    for (const stored of [
      DUMMY_HASH,
      '',
      'plain-text-secret',
      good.replace('scrypt$16384', 'scrypt$1073741824'), // would be a memory bomb
      good.replace('scrypt$16384', 'scrypt$16383'), // N not a power of two
      good.replace('$8$1$', '$8$99$'),
      good.slice(0, -20),
    ]) {
      counter.reset();
      assert.equal(await verifySecret(secret, stored, counter.derive), false, stored);
      assert.equal(counter.calls(), 1, `one scrypt for ${JSON.stringify(stored)}`);
    }
  });
});
