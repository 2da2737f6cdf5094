// The shape every stored audit entry must have to extend the chain, whatever the database: checked before
// an entry is written, so a builder that breaks the chain is refused with nothing stored. Every store uses it.

/** The last stored entry's position in the chain, or null when the log is empty. */
export type AuditChainEnd = { seq: number; hash: string } | null;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Why `entry` cannot follow `last`, or null when it can. */
export function auditChainProblem(entry: unknown, last: AuditChainEnd): string | null {
  if (!isObject(entry)) return 'the builder returned no entry';
  const expected = (last?.seq ?? 0) + 1;
  if (entry.seq !== expected) return `seq ${String(entry.seq)} does not follow ${expected - 1}`;
  // The first entry's prev_hash is the builder's genesis value: the store has nothing to compare it with.
  if (last !== null && entry.prev_hash !== last.hash) return `prev_hash is not the hash of entry ${last.seq}`;
  for (const field of ['ts', 'event_type', 'prev_hash', 'hash'] as const)
    if (typeof entry[field] !== 'string' || entry[field] === '') return `${field} must be a non-empty string`;
  if (entry.principal !== null && entry.principal !== undefined && typeof entry.principal !== 'string')
    return 'principal must be a string or null';
  if (!isObject(entry.detail)) return 'detail must be a JSON object';
  return null;
}
