// Facts and the federation feed: the fact shapes of the wire (Stigmem-compatible), what a client asserts
// and what the node stores, and the port that stores them and serves them to peers in insertion order.
export const SCOPES = ['local', 'team', 'company', 'public'] as const;
export type Scope = (typeof SCOPES)[number];

export const VALUE_TYPES = ['string', 'text', 'number', 'boolean', 'datetime', 'ref', 'null'] as const;
export type ValueType = (typeof VALUE_TYPES)[number];

export type FactValue =
  | { type: 'string' | 'text' | 'datetime' | 'ref'; v: string }
  | { type: 'number'; v: number }
  | { type: 'boolean'; v: boolean }
  | { type: 'null'; v: null };

/** The content a CID is computed over. */
export interface FactContent {
  entity: string;
  relation: string;
  value: FactValue;
  source: string;
  confidence: number;
  scope: Scope;
}

/** The origin node's Ed25519 signature of {cid, hlc, id, origin_node_id}: key id and base64url bytes. */
export interface OriginSignature {
  kid: string;
  sig: string;
}

export interface FactRecord extends FactContent {
  id: string;
  /** As given by the client (echoed unchanged), else the node's ISO-8601 time of the write. */
  timestamp: string;
  /** As given by the client (echoed unchanged), or null. */
  valid_until: string | null;
  /** Fixed-width hybrid logical clock of the origin node's write; string order = clock order. */
  hlc: string;
  /** sha256:<hex> of the JCS form of FactContent. */
  cid: string;
  /** Attestation, or null when unattested. */
  attested: unknown | null;
  /** Entity URI of the peer this node received the fact from; null when written here. */
  received_from: string | null;
  /** Entity URI of the node where the fact was first written. */
  origin_node_id: string;
  /** The origin's signature; null only for facts stored before origin signatures and not yet signed. */
  origin_sig: OriginSignature | null;
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

/** A page of a newest-first scan (FactStore.recentFacts). */
export interface RecentPage {
  facts: FactRecord[];
  /** Opaque; null when this page reached the oldest matching fact. */
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
  /**
   * How many facts this query would still return after this page, counted up to FEDERATION_REMAINING_CAP
   * (a larger backlog reads as the cap); 0 when `more` is false. The puller shows it as its lag in facts.
   */
  remaining: number;
}

/** The most FederationPage.remaining counts: the count stays cheap however large a backlog is. */
export const FEDERATION_REMAINING_CAP = 10_000;

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
  /**
   * false when a fact with the same CID was already stored: `record` is then the stored one. The same id
   * with another CID is never a duplicate: insertFact throws StoreInputError `id_conflict` and stores nothing.
   */
  inserted: boolean;
  record: FactRecord;
}

export interface FactStore {
  insertFact(record: FactRecord): Promise<InsertResult>;
  /** By id, by a former id (kept as an alias when migration 5 derived ids from CIDs), or by `sha256:` CID. */
  getFact(idOrCid: string): Promise<FactRecord | null>;
  /** Replaces the stored fact's origin signature (a re-signed or newly verified copy); false when absent. */
  setOriginSignature(cid: string, signature: OriginSignature): Promise<boolean>;
  /** Up to `limit` facts that originated at `originNodeId` and are not signed by key `kid` (oldest first). */
  factsToSign(originNodeId: string, kid: string, limit: number): Promise<FactRecord[]>;
  listFacts(filter: FactFilter, limit: number, cursor?: string): Promise<FactPage>;
  /**
   * Newest first (local insertion order, descending): up to `limit` facts matching the filter, stored before
   * the position `cursor` names (a cursor this call returned; absent = from the newest). For scans that
   * favour recent facts and stop early (recall).
   */
  recentFacts(filter: FactFilter, limit: number, cursor?: string): Promise<RecentPage>;
  countFacts(filter?: FactFilter): Promise<number>;
  /** The largest HLC stored (null when there are no facts): the node's clock starts above it. */
  maxHlc(): Promise<string | null>;
  /**
   * Facts for a federation pull, in local insertion order (= HLC order for facts that originated here).
   * Facts without an origin signature are never served: a receiver could not verify them.
   */
  federationPage(query: FederationQuery): Promise<FederationPage>;
}
