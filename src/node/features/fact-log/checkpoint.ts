// A signed checkpoint of the fact log: "the log of <log_id> had tree_size facts with this root at this
// time", signed with the node key (Ed25519 over the RFC 8785 canonical JSON of every other field). It
// carries the public key and its key id, so a holder can check it offline and compare the key with the
// node's manifest (`public_key`, or an old key in its rotation events). Inclusion proofs are against it.
import { sign, verify } from 'node:crypto';
import { z } from 'zod';
import { canonicalJson } from '../identity/canonical-json.ts';
import { describePublicKey, type NodeKey, publicKeyFromRaw } from '../identity/node-key.ts';
import { HEX_HASH } from './merkle.ts';

export const CHECKPOINT_TYPE = 'tessera.fact_log.checkpoint.v1';

const base64url = (bytes: number) =>
  z
    .string()
    .regex(/^[A-Za-z0-9_-]+$/, 'must be base64url without padding')
    .refine(
      (s) =>
        Buffer.from(s, 'base64url').toString('base64url') === s &&
        Buffer.from(s, 'base64url').length === bytes,
      {
        message: `must encode exactly ${bytes} bytes`,
      },
    );

export const UnsignedCheckpointSchema = z.strictObject({
  type: z.literal(CHECKPOINT_TYPE),
  log_id: z.string().min(1).max(2048),
  tree_size: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  root_hash: z.string().regex(HEX_HASH, 'must be 64 lower-case hex digits'),
  timestamp: z.iso.datetime({ offset: true }),
  key_id: z.string().regex(/^[0-9a-f]{16}$/, 'must be 16 lower-case hex digits'),
  public_key: base64url(32),
});
export const SignedCheckpointSchema = UnsignedCheckpointSchema.extend({ signature: base64url(64) });

export type UnsignedCheckpoint = z.infer<typeof UnsignedCheckpointSchema>;
export type SignedCheckpoint = z.infer<typeof SignedCheckpointSchema>;

export function signCheckpoint(
  fields: { logId: string; treeSize: number; rootHash: string; timestamp: Date },
  key: Pick<NodeKey, 'privateKey' | 'keyId' | 'publicKeyB64'>,
): SignedCheckpoint {
  const unsigned: UnsignedCheckpoint = {
    type: CHECKPOINT_TYPE,
    log_id: fields.logId,
    tree_size: fields.treeSize,
    root_hash: fields.rootHash,
    timestamp: fields.timestamp.toISOString(),
    key_id: key.keyId,
    public_key: key.publicKeyB64,
  };
  const signature = sign(null, Buffer.from(canonicalJson(unsigned), 'utf8'), key.privateKey);
  return { ...unsigned, signature: signature.toString('base64url') };
}

/** Why a (schema-checked) checkpoint's own signature does not hold, or null when it does. */
export function checkpointSignatureProblem(checkpoint: SignedCheckpoint): string | null {
  const { signature, ...unsigned } = checkpoint;
  const derived = describePublicKey(checkpoint.public_key).keyId;
  if (derived !== checkpoint.key_id)
    return `key_id ${checkpoint.key_id} is not derived from public_key (expected ${derived})`;
  try {
    const key = publicKeyFromRaw(checkpoint.public_key);
    if (verify(null, Buffer.from(canonicalJson(unsigned), 'utf8'), key, Buffer.from(signature, 'base64url')))
      return null;
  } catch {
    // An unusable public key fails below like a wrong signature.
  }
  return `the signature does not verify with the checkpoint's public key ${checkpoint.key_id}`;
}
