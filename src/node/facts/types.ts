// The fact shapes of the wire (Stigmem-compatible): what a client asserts and what the node stores.
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
}
