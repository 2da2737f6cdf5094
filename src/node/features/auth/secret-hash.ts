// Stored form of an API key secret: scrypt (node:crypto) as a self-describing string
// `scrypt$<N>$<r>$<p>$<salt b64url>$<hash b64url>`, so parameters can be raised later without breaking old
// keys. Verification always costs exactly one scrypt, whether the stored string is good, corrupt, or the
// fixed dummy used for unknown key ids; the derive function is injectable so tests can count the calls.
import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';

export interface ScryptParams {
  N: number;
  r: number;
  p: number;
  keyLength: number;
}

export type Derive = (secret: string, salt: Buffer, params: ScryptParams) => Promise<Buffer>;

/** N = 2^14, r = 8, p = 1: ~16 MiB and tens of milliseconds per hash; 16-byte salt, 32-byte output. */
export const SCRYPT_DEFAULTS: ScryptParams = { N: 2 ** 14, r: 8, p: 1, keyLength: 32 };
const SALT_BYTES = 16;

export const scryptDerive: Derive = (secret, salt, { N, r, p, keyLength }) =>
  new Promise((resolve, reject) => {
    // maxmem above 128·N·r with room to spare: Node's 32 MiB default is too tight for r = 8 at N = 2^15.
    scrypt(secret, salt, keyLength, { N, r, p, maxmem: 256 * N * r + 1024 * 1024 }, (error, key) =>
      error ? reject(error) : resolve(key),
    );
  });

/**
 * Compared against when a key id is unknown (or its stored hash is unreadable), so that case pays the same
 * single scrypt as a real key. Its secret is unknown to anyone: nothing ever matches it.
 */
export const DUMMY_HASH =
  'scrypt$16384$8$1$pD3gF9ngJe8tgDph-0WxKQ$0rUUPG7ly7nQ3nzX0bsQBtR2741tX1qZb2_XkzSAmIA';

interface Decoded {
  params: ScryptParams;
  salt: Buffer;
  hash: Buffer;
}

const ENCODED = /^scrypt\$(\d{1,8})\$(\d{1,3})\$(\d{1,3})\$([A-Za-z0-9_-]{16,128})\$([A-Za-z0-9_-]{16,128})$/;

/** Bounds keep a corrupt or hostile row from turning one verification into a memory or CPU bomb. */
function decode(encoded: string): Decoded | null {
  const m = ENCODED.exec(encoded);
  if (!m) return null;
  const [N, r, p] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const powerOfTwo = (N & (N - 1)) === 0;
  if (!powerOfTwo || N < 2 ** 10 || N > 2 ** 17 || r < 1 || r > 16 || p < 1 || p > 4) return null;
  const salt = Buffer.from(m[4] as string, 'base64url');
  const hash = Buffer.from(m[5] as string, 'base64url');
  // A short hash would be a prefix of the real one (scrypt output is PBKDF2): require the full length.
  if (salt.length < SALT_BYTES || hash.length < SCRYPT_DEFAULTS.keyLength || hash.length > 64) return null;
  return { params: { N, r, p, keyLength: hash.length }, salt, hash };
}

export async function hashSecret(
  secret: string,
  derive: Derive = scryptDerive,
  params: ScryptParams = SCRYPT_DEFAULTS,
): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const hash = await derive(secret, salt, params);
  return `scrypt$${params.N}$${params.r}$${params.p}$${salt.toString('base64url')}$${hash.toString('base64url')}`;
}

/** true when `secret` is the one `encoded` was made from. Exactly one derive call on every path. */
export async function verifySecret(
  secret: string,
  encoded: string,
  derive: Derive = scryptDerive,
): Promise<boolean> {
  const decoded = decode(encoded);
  const target = decoded ?? (decode(DUMMY_HASH) as Decoded);
  const actual = await derive(secret, target.salt, target.params);
  return decoded !== null && actual.length === target.hash.length && timingSafeEqual(actual, target.hash);
}
