// Origin signatures: the node where a fact is written signs it with its node key (Ed25519), over the RFC 8785
// canonical JSON of exactly {cid, hlc, id, origin_node_id}. The CID covers the content and the id is derived
// from the CID, so the signature binds content, id, origin and time. It travels with the fact through any
// relay; a receiver checks it against the keys the origin published in its signed manifest.
import { type KeyObject, sign, verify } from 'node:crypto';
import type { FactRecord, OriginSignature } from '../../../store/ports/facts.ts';
import { canonicalJson } from '../identity/canonical-json.ts';
import type { NodeKey } from '../identity/node-key.ts';

type Signed = Pick<FactRecord, 'cid' | 'hlc' | 'id' | 'origin_node_id'>;

/** The exact bytes an origin signs. */
export function originPayload(record: Signed): Buffer {
  const { cid, hlc, id, origin_node_id } = record;
  return Buffer.from(canonicalJson({ cid, hlc, id, origin_node_id }), 'utf8');
}

export function signOrigin(record: Signed, key: NodeKey): OriginSignature {
  return { kid: key.keyId, sig: sign(null, originPayload(record), key.privateKey).toString('base64url') };
}

/** True when `signature` is the origin's Ed25519 signature of this record under `publicKey`. */
export function originSignatureValid(
  record: Signed,
  signature: OriginSignature,
  publicKey: KeyObject,
): boolean {
  const bytes = Buffer.from(signature.sig, 'base64url');
  if (bytes.length !== 64) return false;
  try {
    return verify(null, originPayload(record), publicKey, bytes);
  } catch {
    return false;
  }
}
