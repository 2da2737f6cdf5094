// The peer side of a rotation. A peer's manifest may name a node key other than the one we approved; we
// accept it only when signed rotation events lead from the approved key to it, each signed by the key
// before it. The keys handed over stay accepted until their dual-trust window ends, then only the new one.
// Issuer keys are what the peer's (node-key-signed) manifest publishes: the current one plus the old ones
// of issuer rotation events still inside their window.
import type { KeyKind, PeerKeyRecord } from '../../../store/ports/peer-keys.ts';
import type { PeerRecord } from '../../../store/ports/peers.ts';
import type { SignedManifest } from '../identity/manifest.ts';
import { describePublicKey } from '../identity/node-key.ts';
import { RotationError } from './errors.ts';
import { inWindow, type SignedRotationEvent, verifyRotationEvent } from './rotation-event.ts';

/** Raw base64url keys a peer's node-key signatures may verify with at `now`: its current key first. */
export function acceptedPeerKeys(
  peer: Pick<PeerRecord, 'id' | 'publicKey'>,
  history: readonly PeerKeyRecord[],
  now: Date,
  kind: KeyKind = 'node',
): string[] {
  const keys = kind === 'node' ? [peer.publicKey] : [];
  for (const record of history) {
    if (record.peerId !== peer.id || record.kind !== kind || keys.includes(record.publicKey)) continue;
    if (record.notAfter === null || now.getTime() < Date.parse(record.notAfter)) keys.push(record.publicKey);
  }
  return keys;
}

export interface PeerKeyPlan {
  /** The peer's new current node key, when the manifest proved a rotation. */
  node: { publicKey: string; keyId: string; fingerprint: string } | null;
  /** Every key record to write (rotated-out node keys; issuer keys, current and old). */
  records: PeerKeyRecord[];
}

/**
 * What a verified manifest (verifyManifest / fetchPeerManifest) changes in our trust for `peer`. Throws
 * RotationError `rotation_unproven` when the node key changed without a chain of signed events from the
 * key we approved: the operator must re-approve such a peer.
 */
export function planPeerKeyUpdate(
  peer: Pick<PeerRecord, 'id' | 'publicKey' | 'keyId' | 'entityUri'>,
  known: readonly PeerKeyRecord[],
  manifest: Pick<SignedManifest, 'public_key' | 'rotation_events' | 'issuer_key_id' | 'issuer_public_key'>,
  now: Date,
): PeerKeyPlan {
  const addedAt = now.toISOString();
  const events = manifest.rotation_events.flatMap((raw) => {
    try {
      return [verifyRotationEvent(raw)];
    } catch {
      return []; // an event that does not verify proves nothing; it cannot hurt either
    }
  });
  const records: PeerKeyRecord[] = [];
  let node: PeerKeyPlan['node'] = null;
  if (manifest.public_key !== peer.publicKey) {
    for (const event of followChain(peer, events, manifest.public_key))
      records.push({
        peerId: peer.id,
        kind: 'node',
        keyId: event.old_key_id,
        publicKey: event.old_public_key,
        notAfter: event.dual_trust_until,
        addedAt,
      });
    node = { publicKey: manifest.public_key, ...describePublicKey(manifest.public_key) };
  }

  // Issuer keys: exactly what the manifest publishes now. Keys we knew that it no longer names end now.
  const published = new Map<string, PeerKeyRecord>();
  if (manifest.issuer_public_key && manifest.issuer_key_id)
    published.set(manifest.issuer_key_id, {
      peerId: peer.id,
      kind: 'issuer',
      keyId: manifest.issuer_key_id,
      publicKey: manifest.issuer_public_key,
      notAfter: null,
      addedAt,
    });
  for (const event of events)
    if (event.kind === 'issuer' && inWindow(event, now) && !published.has(event.old_key_id))
      published.set(event.old_key_id, {
        peerId: peer.id,
        kind: 'issuer',
        keyId: event.old_key_id,
        publicKey: event.old_public_key,
        notAfter: event.dual_trust_until,
        addedAt,
      });
  for (const record of known)
    if (record.peerId === peer.id && record.kind === 'issuer' && !published.has(record.keyId))
      records.push({ ...record, notAfter: addedAt });
  records.push(...published.values());
  return { node, records };
}

/** The node rotation events from the approved key to `target`, in order; throws when there is no chain. */
function followChain(
  peer: Pick<PeerRecord, 'publicKey' | 'keyId' | 'entityUri'>,
  events: SignedRotationEvent[],
  target: string,
): SignedRotationEvent[] {
  const chain: SignedRotationEvent[] = [];
  let key = peer.publicKey;
  while (key !== target) {
    const next = events.find((e) => e.kind === 'node' && e.old_public_key === key);
    if (!next || chain.includes(next))
      throw new RotationError(
        'rotation_unproven',
        `${peer.entityUri} now presents node key ${describePublicKey(target).keyId}, but no signed rotation events lead to it from the approved key ${peer.keyId}; re-approve the peer after checking its fingerprint out of band`,
      );
    chain.push(next);
    key = next.new_public_key;
  }
  return chain;
}
