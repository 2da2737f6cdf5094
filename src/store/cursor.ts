// Cursors are positions in local insertion order (the facts table's `seq`). The list cursor is opaque
// (base64url) so API clients do not build their own; the federation cursor is the plain decimal seq, which
// peers store and send back unchanged. Both are validated strictly: anything else is a StoreInputError.
import { StoreInputError } from './errors.ts';

const DECIMAL = /^(0|[1-9]\d{0,15})$/;

function toSeq(text: string): number | null {
  if (!DECIMAL.test(text)) return null;
  const seq = Number(text);
  return Number.isSafeInteger(seq) ? seq : null;
}

export function encodeListCursor(seq: number): string {
  return Buffer.from(String(seq), 'utf8').toString('base64url');
}

export function decodeListCursor(cursor: string): number {
  const seq = /^[A-Za-z0-9_-]{1,24}$/.test(cursor)
    ? toSeq(Buffer.from(cursor, 'base64url').toString('utf8'))
    : null;
  // Re-encoding must give the input back: no alternative spellings of the same position.
  if (seq === null || encodeListCursor(seq) !== cursor)
    throw new StoreInputError('invalid_cursor', 'not a cursor returned by a previous page');
  return seq;
}

export function encodeFederationCursor(seq: number): string {
  return String(seq);
}

/** undefined = from the beginning. */
export function decodeFederationCursor(cursor: string | undefined): number {
  if (cursor === undefined) return 0;
  const seq = toSeq(cursor);
  if (seq === null)
    throw new StoreInputError('invalid_cursor', 'a federation cursor is a non-negative integer');
  return seq;
}

export function checkLimit(limit: number): void {
  if (!Number.isSafeInteger(limit) || limit < 1)
    throw new StoreInputError('invalid_limit', `limit must be a positive integer (got ${limit})`);
}
