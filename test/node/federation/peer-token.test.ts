// Peer token rules on real EdDSA JWTs: lifetime, expiry, required claims, audience, issuer/subject, key.
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { test } from 'node:test';
import { SignJWT } from 'jose';
import {
  MAX_TOKEN_TTL_S,
  mintPeerToken,
  PeerTokenError,
  verifyPeerToken,
} from '../../../src/node/features/federation/peer-token.ts';

const { privateKey, publicKey } = generateKeyPairSync('ed25519');
const other = generateKeyPairSync('ed25519');
const ISS = 'spiffe://test.example/node/b';
const AUD = 'spiffe://test.example/node/a';
const NOW = new Date('2026-06-01T12:00:00Z');
const iat = Math.floor(NOW.getTime() / 1000);

function verify(token: string, now = NOW, keys = [publicKey]) {
  return verifyPeerToken(token, { publicKeys: keys, issuer: ISS, audience: AUD, now });
}

async function refused(token: Promise<string> | string, pattern: RegExp, now = NOW, keys = [publicKey]) {
  await assert.rejects(verify(await token, now, keys), (error: unknown) => {
    assert.ok(error instanceof PeerTokenError);
    assert.equal(error.code, 'token_invalid');
    assert.match(error.message, pattern);
    return true;
  });
}

const custom = (claims: Record<string, unknown>, ttl = 60) =>
  new SignJWT(claims)
    .setProtectedHeader({ alg: 'EdDSA' })
    .setIssuedAt(iat)
    .setExpirationTime(iat + ttl)
    .sign(privateKey);

test('a minted token verifies and carries its jti, expiry and issue time', async () => {
  const token = await mintPeerToken({ privateKey, keyId: 'k1', issuer: ISS, audience: AUD, now: NOW });
  const verified = await verify(token);
  assert.equal(verified.issuer, ISS);
  assert.equal(verified.expiresAt, iat + 60);
  assert.equal(verified.issuedAt, iat);
  assert.match(verified.jti, /^[0-9a-f-]{36}$/);
});

test('expired, wrong audience, wrong key and a second key inside a dual-trust set', async () => {
  const token = await mintPeerToken({ privateKey, keyId: 'k1', issuer: ISS, audience: AUD, now: NOW });
  await refused(token, /expired/, new Date(NOW.getTime() + 120_000));
  const elsewhere = await mintPeerToken({
    privateKey,
    keyId: 'k1',
    issuer: ISS,
    audience: 'spiffe://x/y',
    now: NOW,
  });
  await refused(elsewhere, /aud/);
  await refused(token, /signature/, NOW, [other.publicKey]);
  assert.equal((await verify(token, NOW, [other.publicKey, publicKey])).issuer, ISS, 'either key of a set');
});

test(`a lifetime over ${MAX_TOKEN_TTL_S} s, a missing jti, or sub ≠ iss is refused`, async () => {
  await refused(
    custom({ iss: ISS, sub: ISS, aud: AUD, jti: 'abcdefgh-1' }, MAX_TOKEN_TTL_S + 60),
    /lifetime|iat/,
  );
  await refused(custom({ iss: ISS, sub: ISS, aud: AUD }), /jti/);
  await refused(
    custom({ iss: ISS, sub: 'spiffe://test.example/node/c', aud: AUD, jti: 'abcdefgh-2' }),
    /sub/,
  );
  await refused(custom({ iss: ISS, sub: ISS, aud: AUD, jti: 'short' }), /jti/);
});
