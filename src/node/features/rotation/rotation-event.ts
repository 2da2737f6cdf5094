// A key rotation event: "key old_key_id hands over to new_key_id; trust the old one until dual_trust_until",
// signed by the OLD key (Ed25519 over the RFC 8785 canonical JSON of every other field). Whoever trusted the
// old key can therefore trust the new one without asking the operator again, and nobody else can forge it.
import { type KeyObject, sign, verify } from 'node:crypto';
import { z } from 'zod';
import { canonicalJson } from '../identity/canonical-json.ts';
import { describePublicKey, type NodeKey, publicKeyFromRaw } from '../identity/node-key.ts';
import { RotationError } from './errors.ts';
import { KEY_KINDS } from './key-files.ts';

export const ROTATION_EVENT_TYPE = 'tessera.key_rotation.v1';

const keyId = z.string().regex(/^[0-9a-f]{16}$/, 'must be 16 lower-case hex digits');
const rawKey = z.string().regex(/^[A-Za-z0-9_-]{43}$/, 'must be a base64url 32-byte Ed25519 public key');
const rfc3339 = z.iso.datetime({ offset: true });

export const UnsignedRotationEventSchema = z.strictObject({
  type: z.literal(ROTATION_EVENT_TYPE),
  kind: z.enum(KEY_KINDS),
  old_key_id: keyId,
  old_public_key: rawKey,
  new_key_id: keyId,
  new_public_key: rawKey,
  rotated_at: rfc3339,
  dual_trust_until: rfc3339,
});
export const SignedRotationEventSchema = UnsignedRotationEventSchema.extend({
  signature: z.string().regex(/^[A-Za-z0-9_-]{86}$/, 'must be a base64url Ed25519 signature'),
});

export type UnsignedRotationEvent = z.infer<typeof UnsignedRotationEventSchema>;
export type SignedRotationEvent = z.infer<typeof SignedRotationEventSchema>;

export function signRotationEvent(options: {
  kind: SignedRotationEvent['kind'];
  oldKey: NodeKey;
  newKey: Pick<NodeKey, 'keyId' | 'publicKeyB64'>;
  rotatedAt: Date;
  dualTrustUntil: Date;
}): SignedRotationEvent {
  const unsigned: UnsignedRotationEvent = {
    type: ROTATION_EVENT_TYPE,
    kind: options.kind,
    old_key_id: options.oldKey.keyId,
    old_public_key: options.oldKey.publicKeyB64,
    new_key_id: options.newKey.keyId,
    new_public_key: options.newKey.publicKeyB64,
    rotated_at: options.rotatedAt.toISOString(),
    dual_trust_until: options.dualTrustUntil.toISOString(),
  };
  const signature = sign(null, Buffer.from(canonicalJson(unsigned), 'utf8'), options.oldKey.privateKey);
  return { ...unsigned, signature: signature.toString('base64url') };
}

/**
 * Parses and verifies an event: structure, key ids derived from the keys, window after the rotation, and
 * the signature by the old key. With `trustedOldKey` (the key the caller already trusts), the event must
 * hand over from exactly that key. Throws RotationError `rotation_event_invalid` naming the first problem.
 */
export function verifyRotationEvent(input: unknown, trustedOldKey?: string): SignedRotationEvent {
  const parsed = SignedRotationEventSchema.safeParse(input);
  const fail = (detail: string) => new RotationError('rotation_event_invalid', detail);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    throw fail(`rotation event ${first?.path.join('.') || ''}: ${first?.message ?? 'invalid'}`);
  }
  const event = parsed.data;
  if (describePublicKey(event.old_public_key).keyId !== event.old_key_id)
    throw fail(`old_key_id ${event.old_key_id} is not derived from old_public_key`);
  if (describePublicKey(event.new_public_key).keyId !== event.new_key_id)
    throw fail(`new_key_id ${event.new_key_id} is not derived from new_public_key`);
  if (event.old_key_id === event.new_key_id) throw fail('the event rotates a key to itself');
  if (Date.parse(event.dual_trust_until) < Date.parse(event.rotated_at))
    throw fail('dual_trust_until is before rotated_at');
  if (trustedOldKey !== undefined && trustedOldKey !== event.old_public_key)
    throw fail(`the event hands over from key ${event.old_key_id}, not from the key trusted here`);
  const { signature, ...unsigned } = event;
  let oldKey: KeyObject;
  try {
    oldKey = publicKeyFromRaw(event.old_public_key);
  } catch {
    throw fail('old_public_key is not an Ed25519 key');
  }
  const ok = verify(
    null,
    Buffer.from(canonicalJson(unsigned), 'utf8'),
    oldKey,
    Buffer.from(signature, 'base64url'),
  );
  if (!ok) throw fail(`the signature does not verify with the old key ${event.old_key_id}`);
  return event;
}

/** Still inside its dual-trust window at `now` (the old key is still accepted). */
export function inWindow(event: Pick<SignedRotationEvent, 'dual_trust_until'>, now: Date): boolean {
  return now.getTime() < Date.parse(event.dual_trust_until);
}
