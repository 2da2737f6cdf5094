// The one storage contract of the node. Async and transactional so that the synchronous SQLite driver
// and an asynchronous PostgreSQL one both fit it unchanged: the node never sees which one it has.
import type { FactRecord, Scope } from '../node/facts/types.ts';

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
  createdAt: string;
  updatedAt: string;
}

export interface FactFilter {
  entity?: string;
  relation?: string;
  source?: string;
  scope?: Scope;
}

export interface FactPage {
  facts: FactRecord[];
  /** Facts matching the filter, all pages together. */
  total: number;
  /** Opaque; null when this page is the last. */
  cursor: string | null;
}

export interface FederationPage {
  facts: FactRecord[];
  /**
   * Opaque cursor for the next page: after the last fact of this page, and possibly past facts this query
   * excludes (so they are not scanned again); never behind the cursor given.
   */
  cursor: string;
  /** More facts are waiting after this page. */
  more: boolean;
}

export interface FederationQuery {
  /** Cursor returned by a previous page; undefined = from the beginning. */
  after?: string;
  limit: number;
  scopes: Scope[];
  /** Only facts whose origin_node_id is this (facts that originated here); undefined = any origin. */
  originNodeId?: string;
  /** Never send back facts that originated at the asking peer. */
  excludeOrigin?: string;
}

export interface InsertResult {
  /** false when a fact with the same CID was already stored: `record` is then the stored one. */
  inserted: boolean;
  record: FactRecord;
}

export const PERMISSIONS = ['read', 'write', 'federate', 'admin', 'audit.read'] as const;
export type Permission = (typeof PERMISSIONS)[number];

/** A managed API key. The secret is never stored: only a scrypt hash, found through the public `id`. */
export interface ApiKeyRecord {
  /** Public key id, also the prefix of the token (`tsk_<id>_<secret>`), so one lookup finds the one hash. */
  id: string;
  /** The principal the key acts as (audit, quotas). */
  entityUri: string;
  permissions: Permission[];
  /** Self-describing scrypt hash: `scrypt$<N>$<r>$<p>$<salt b64url>$<hash b64url>`. */
  secretHash: string;
  description: string | null;
  createdAt: string;
  expiresAt: string | null;
  revokedAt: string | null;
}

/** One row of the tamper-evident audit log (wire names, as the API and the export show them). */
export interface AuditEntry {
  seq: number;
  ts: string;
  event_type: string;
  principal: string | null;
  detail: Record<string, unknown>;
  prev_hash: string;
  hash: string;
}

export interface AuditFilter {
  event_type?: string;
  principal?: string;
  /** RFC 3339 bounds on ts (inclusive since, exclusive until). */
  since?: string;
  until?: string;
}

export interface AuditPage {
  entries: AuditEntry[];
  /** Opaque; null on the last page. */
  cursor: string | null;
}

export type KeyKind = 'node' | 'issuer';

/**
 * A key of a peer other than its current node key (that one is in PeerRecord): its current issuer key
 * (notAfter null) and keys it rotated out, trusted until their dual-trust window ends (notAfter).
 */
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

/** A capability token this node issued (the token itself is not kept: it is a bearer credential). */
export interface CapabilityRecord {
  id: string;
  issuer: string;
  subject: string;
  verb: string;
  object: string;
  /** The issuer key that signed it. */
  keyId: string;
  issuedAt: string;
  expiresAt: string;
}

/** A revoked capability, as it replicates between nodes (wire names). */
export interface RevocationRecord {
  capability_id: string;
  /** Entity URI of the node that issued (and alone may revoke) the capability. */
  issuer: string;
  /** The capability's own expiry: after it the revocation is moot and may be pruned. */
  expires_at: string;
  revoked_at: string;
  reason: string | null;
}

export interface RevocationQuery {
  /** Cursor of a previous page; undefined = from the beginning. */
  after?: string;
  limit: number;
  /** Only revocations of this issuer. */
  issuer?: string;
}

export interface RevocationPage {
  revocations: RevocationRecord[];
  /** Decimal local insertion position; pass it back as `after`. Never behind the cursor given. */
  cursor: string;
  more: boolean;
}

/** Everything a transaction can do. Inside `tx(fn)` all calls commit together or not at all. */
export interface StoreOps {
  insertFact(record: FactRecord): Promise<InsertResult>;
  getFact(idOrCid: string): Promise<FactRecord | null>;
  listFacts(filter: FactFilter, limit: number, cursor?: string): Promise<FactPage>;
  countFacts(filter?: FactFilter): Promise<number>;
  /** Facts for a federation pull, in local insertion order (= HLC order for facts that originated here). */
  federationPage(query: FederationQuery): Promise<FederationPage>;

  addPeer(peer: PeerRecord): Promise<void>;
  getPeer(id: string): Promise<PeerRecord | null>;
  getPeerByEntityUri(entityUri: string): Promise<PeerRecord | null>;
  listPeers(): Promise<PeerRecord[]>;
  updatePeer(id: string, changes: Partial<Omit<PeerRecord, 'id' | 'createdAt'>>): Promise<PeerRecord | null>;

  /** Pull cursor we hold for a peer (its opaque cursor string), or null before the first pull. */
  getPullCursor(peerId: string): Promise<string | null>;
  setPullCursor(peerId: string, cursor: string): Promise<void>;

  /** Records a token id until `expiresAt` (unix s); false when it was already recorded (a replay). */
  rememberJti(jti: string, expiresAt: number): Promise<boolean>;
  /** Drops token ids whose expiry is before `now` (unix s). */
  pruneJtis(now: number): Promise<void>;

  getMeta(key: string): Promise<string | null>;
  setMeta(key: string, value: string): Promise<void>;

  addApiKey(key: ApiKeyRecord): Promise<void>;
  getApiKey(id: string): Promise<ApiKeyRecord | null>;
  listApiKeys(): Promise<ApiKeyRecord[]>;
  /** Sets revokedAt; false when no such key (or it was already revoked). */
  revokeApiKey(id: string, revokedAt: string): Promise<boolean>;

  /**
   * Appends one audit entry atomically: `build` receives the last entry's seq and hash (null for the first)
   * and returns the complete entry (seq = last + 1, prev_hash, hash), which is stored as given.
   */
  appendAudit(build: (last: { seq: number; hash: string } | null) => AuditEntry): Promise<AuditEntry>;
  listAudit(filter: AuditFilter, limit: number, cursor?: string): Promise<AuditPage>;
  /** Every entry in seq order from `afterSeq` (exclusive), at most `limit`: for verify and export. */
  auditRange(afterSeq: number, limit: number): Promise<AuditEntry[]>;

  /** Adds or updates (its notAfter) a peer key, keyed by (peerId, kind, keyId). */
  putPeerKey(key: PeerKeyRecord): Promise<void>;
  /** Keys of one peer, or of every peer; oldest first. */
  listPeerKeys(peerId?: string): Promise<PeerKeyRecord[]>;
  /** Deletes keys whose notAfter is before `before` (RFC 3339 UTC); returns how many. */
  prunePeerKeys(before: string): Promise<number>;

  addCapability(capability: CapabilityRecord): Promise<void>;
  getCapability(id: string): Promise<CapabilityRecord | null>;
  /**
   * Records a revocation, keyed by (issuer, capability_id): an id is only unique within its issuer, so a
   * record of another issuer never stands in for it. False when that issuer already revoked that id (the
   * first record stays).
   */
  addRevocation(revocation: RevocationRecord): Promise<boolean>;
  /** The revocation of `capabilityId` by `issuer`, or null. */
  getRevocation(issuer: string, capabilityId: string): Promise<RevocationRecord | null>;
  /** Revocations in local insertion order after the cursor: the replication feed. */
  revocationPage(query: RevocationQuery): Promise<RevocationPage>;
}

export interface Store extends StoreOps {
  /** Runs fn in one transaction: committed when it resolves, rolled back when it throws. */
  tx<T>(fn: (tx: StoreOps) => Promise<T>): Promise<T>;
  /** Cheap probe for /readyz: the database answers and accepts a write. */
  writable(): Promise<boolean>;
  close(): Promise<void>;
}
