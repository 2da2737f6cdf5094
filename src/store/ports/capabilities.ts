// Capability tokens this node issued, and revocations (its own and its peers'), which replicate between
// nodes as a feed in local insertion order.

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

export interface CapabilityStore {
  /** StoreInputError `invalid_record` for a taken id. */
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
