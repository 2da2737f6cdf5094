// The advisory locks of one store schema. PostgreSQL advisory locks are per database, so each key pairs a
// purpose with a hash of the schema name: stores in different schemas of one database never wait on each
// other, and every replica of one schema computes the same keys (no server function involved).

/** The two-integer key arguments of pg_advisory_lock / pg_advisory_xact_lock, as SQL literals. */
export interface AdvisoryLocks {
  /** Held (session lock) while migrations run: replicas starting together migrate once. */
  migrate: string;
  /** Held (transaction lock) by every transaction that writes a seq-ordered table: seq order = commit order. */
  write: string;
}

// 'TSM1' and 'TSW1': fixed purposes, so other applications' advisory locks are unlikely to collide.
const MIGRATE_PURPOSE = 0x54534d31;
const WRITE_PURPOSE = 0x54535731;
// 'TSL1': named leases (session locks), keyed by schema and name.
const LEASE_PURPOSE = 0x54534c31;

/** FNV-1a (32 bit) of the UTF-8 bytes, as a signed int4. */
export function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (const byte of Buffer.from(text, 'utf8')) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193);
  }
  return hash | 0;
}

/** The lock keys of the store in `schema`. */
export function advisoryLocks(schema: string): AdvisoryLocks {
  const key = fnv1a(`tessera:${schema}`);
  return { migrate: `${MIGRATE_PURPOSE}, ${key}`, write: `${WRITE_PURPOSE}, ${key}` };
}

/** The key of lease `name` of the store in `schema`. */
export function leaseLock(schema: string, name: string): string {
  return `${LEASE_PURPOSE}, ${fnv1a(`tessera:${schema}:${name}`)}`;
}
