// The peers this node federates with, and the pull cursor it holds for each.
import type { Scope } from './facts.ts';

export type PeerStatus = 'pending' | 'approved' | 'revoked';

export interface PeerRecord {
  /** Local id (uuid). */
  id: string;
  /** The peer's entity URI: its manifest `entity_uri`, proven equal to its TLS certificate's URI SAN. */
  entityUri: string;
  /** The peer's federation base URL, e.g. https://127.0.0.1:8765 */
  federationUrl: string;
  /** Ed25519 public key of the peer's node key (base64url, raw 32 bytes) and its key id. */
  publicKey: string;
  keyId: string;
  /** `sha256:<hex>` of the raw public key: what operators compare out of band before approving. */
  fingerprint: string;
  /** SPKI SHA-256 (hex) of the TLS leaf the peer presented when it was added. */
  tlsSpkiSha256: string;
  status: PeerStatus;
  /** Scopes this peer may receive from us; default ['company', 'public']; never 'local'. */
  allowedScopes: Scope[];
  /**
   * CIDR networks the peer's federation requests must come from (the client address: the socket's, or the
   * one a trusted proxy forwarded). Absent: any address. An empty list in an update clears it.
   */
  allowedCidrs?: string[];
  createdAt: string;
  updatedAt: string;
}

export interface PeerStore {
  /** StoreInputError `peer_exists` when the id or the entity URI is taken. */
  addPeer(peer: PeerRecord): Promise<void>;
  getPeer(id: string): Promise<PeerRecord | null>;
  getPeerByEntityUri(entityUri: string): Promise<PeerRecord | null>;
  /** Oldest first. */
  listPeers(): Promise<PeerRecord[]>;
  /** Undefined fields are left as they are; updatedAt defaults to now. Null when no such peer. */
  updatePeer(id: string, changes: Partial<Omit<PeerRecord, 'id' | 'createdAt'>>): Promise<PeerRecord | null>;

  /** Pull cursor we hold for a peer (its opaque cursor string), or null before the first pull. */
  getPullCursor(peerId: string): Promise<string | null>;
  /** StoreInputError `unknown_peer` when there is no such peer. */
  setPullCursor(peerId: string, cursor: string): Promise<void>;
}
