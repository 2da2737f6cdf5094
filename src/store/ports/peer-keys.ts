// Peers' keys other than their current node key (that one is in PeerRecord): their current issuer key and
// the keys they rotated out, trusted until their dual-trust window ends. The node's own keys live in files.
export type KeyKind = 'node' | 'issuer';

export interface PeerKeyRecord {
  peerId: string;
  kind: KeyKind;
  keyId: string;
  /** Raw Ed25519 public key, base64url. */
  publicKey: string;
  /** RFC 3339 UTC end of trust; null = no end (the peer's current key of this kind). */
  notAfter: string | null;
  addedAt: string;
}

export interface PeerKeyStore {
  /** Adds or updates (its notAfter) a peer key, keyed by (peerId, kind, keyId); `unknown_peer` if no peer. */
  putPeerKey(key: PeerKeyRecord): Promise<void>;
  /** Keys of one peer, or of every peer; oldest first. */
  listPeerKeys(peerId?: string): Promise<PeerKeyRecord[]>;
  /** Deletes keys whose notAfter is before `before` (RFC 3339 UTC); returns how many. */
  prunePeerKeys(before: string): Promise<number>;
}
