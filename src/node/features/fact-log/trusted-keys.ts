// The node keys an offline verifier knows, per entity URI: from manifests the operator gives (each verified
// on its own: structure, signature, key id; not its validity window, as an old copy is fine for checking
// old proofs) and from a pinned raw key. A manifest names its current node key and, in its signed rotation
// events, the keys it rotated away from: facts signed before a rotation are checked with those.
import { type SignedManifest, verifyManifest } from '../identity/manifest.ts';
import { describePublicKey } from '../identity/node-key.ts';
import { verifyRotationEvent } from '../rotation/rotation-event.ts';

/** entity URI → key id → raw base64url Ed25519 public key. */
export type TrustedKeys = Map<string, Map<string, string>>;

export function addTrustedKey(keys: TrustedKeys, entityUri: string, publicKeyB64: string): void {
  const byId = keys.get(entityUri) ?? new Map<string, string>();
  byId.set(describePublicKey(publicKeyB64).keyId, publicKeyB64);
  keys.set(entityUri, byId);
}

/** Verifies `input` as a signed manifest (ManifestError otherwise) and adds its node keys. */
export function addManifestKeys(keys: TrustedKeys, input: unknown): SignedManifest {
  const issued = (input as { issued_at?: unknown } | null)?.issued_at;
  // Checked as of its own issue time: the signature and key binding, whatever its age.
  const now = typeof issued === 'string' && !Number.isNaN(Date.parse(issued)) ? new Date(issued) : new Date();
  const manifest = verifyManifest(input, { now });
  addTrustedKey(keys, manifest.entity_uri, manifest.public_key);
  for (const event of manifest.rotation_events) {
    const rotation = verifyRotationEvent(event);
    if (rotation.kind === 'node') addTrustedKey(keys, manifest.entity_uri, rotation.old_public_key);
  }
  return manifest;
}
