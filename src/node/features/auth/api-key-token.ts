// The managed API key token: `tsk_<id>_<secret>`. The id (12 hex) is public and is the store's lookup key,
// so verifying a token reads one row and runs one hash; the secret (32 random bytes, base64url) is shown
// once at creation and never stored. The id is fixed-width, so a `_` inside the base64url secret is fine.
import { randomBytes } from 'node:crypto';

export const TOKEN_PREFIX = 'tsk_';
const TOKEN = /^tsk_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$/;
export const KEY_ID = /^[0-9a-f]{12}$/;

export interface ParsedToken {
  id: string;
  secret: string;
}

export interface NewToken extends ParsedToken {
  /** The full token: give it to the client once, then forget it. */
  token: string;
}

export function newToken(): NewToken {
  const id = randomBytes(6).toString('hex');
  const secret = randomBytes(32).toString('base64url');
  return { id, secret, token: `${TOKEN_PREFIX}${id}_${secret}` };
}

/** null for anything that is not exactly a token of this format (no hashing is done for those). */
export function parseToken(token: string): ParsedToken | null {
  const match = TOKEN.exec(token);
  return match ? { id: match[1] as string, secret: match[2] as string } : null;
}
