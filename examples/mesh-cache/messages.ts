// What mesh nodes send each other: one JSON message per frame. Everything a peer sends is checked here
// (shape, sizes) before it touches the cache; anything else is refused with a reason.

/** Longest key or prefix, in UTF-16 code units. */
export const MAX_KEY_LENGTH = 1024;
/** Longest value, in UTF-16 code units (a frame also has to fit the wire's maxFrameBytes). */
export const MAX_VALUE_LENGTH = 256 * 1024;

export type MeshOp =
  | { op: 'put'; key: string; value: string; expiresAt: number | null }
  | { op: 'delete'; key: string }
  | { op: 'purge'; prefix: string };

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

export function encodeOp(op: MeshOp): Uint8Array {
  return encoder.encode(JSON.stringify(op));
}

/** A frame from a peer → the op, or the reason it is refused. */
export function decodeOp(frame: Uint8Array): { ok: true; op: MeshOp } | { ok: false; reason: string } {
  let message: unknown;
  try {
    message = JSON.parse(decoder.decode(frame));
  } catch {
    return { ok: false, reason: 'not_json' };
  }
  if (typeof message !== 'object' || message === null) return { ok: false, reason: 'not_an_object' };
  const m = message as Record<string, unknown>;
  const isKey = (v: unknown): v is string =>
    typeof v === 'string' && v.length > 0 && v.length <= MAX_KEY_LENGTH;
  switch (m.op) {
    case 'put': {
      if (!isKey(m.key)) return { ok: false, reason: 'bad_key' };
      if (typeof m.value !== 'string' || m.value.length > MAX_VALUE_LENGTH)
        return { ok: false, reason: 'bad_value' };
      const expiresAt = m.expiresAt;
      if (expiresAt !== null && !(typeof expiresAt === 'number' && Number.isSafeInteger(expiresAt)))
        return { ok: false, reason: 'bad_expiry' };
      return { ok: true, op: { op: 'put', key: m.key, value: m.value, expiresAt } };
    }
    case 'delete':
      return isKey(m.key) ? { ok: true, op: { op: 'delete', key: m.key } } : { ok: false, reason: 'bad_key' };
    case 'purge':
      return isKey(m.prefix)
        ? { ok: true, op: { op: 'purge', prefix: m.prefix } }
        : { ok: false, reason: 'bad_prefix' };
    default:
      return { ok: false, reason: 'unknown_op' };
  }
}
