// The tamper-evident audit log. The store does not know the hash function: it keeps the chain's shape
// (seq = last + 1, prev_hash = last hash) and stores each entry exactly as built.

/** One row of the audit log (wire names, as the API and the export show them). */
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
  /** Entries matching the filter in all (every page), read in the same snapshot as the page. */
  total: number;
  /** Opaque; null on the last page. */
  cursor: string | null;
}

export interface AuditStore {
  /**
   * Appends one audit entry atomically: `build` receives the last entry's seq and hash (null for the first)
   * and returns the complete entry (seq = last + 1, prev_hash, hash), which is stored as given.
   */
  appendAudit(build: (last: { seq: number; hash: string } | null) => AuditEntry): Promise<AuditEntry>;
  listAudit(filter: AuditFilter, limit: number, cursor?: string): Promise<AuditPage>;
  /** Every entry in seq order from `afterSeq` (exclusive), at most `limit`: for verify and export. */
  auditRange(afterSeq: number, limit: number): Promise<AuditEntry[]>;
}
