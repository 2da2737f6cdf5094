// Small helpers every PostgreSQL port file shares: what a statement runs on, SQLSTATE codes, placeholders,
// and how a port's calls are routed (pool, a transaction's client, or a serialized write transaction).
import type { QueryResultRow } from 'pg';

/** A fixed statement text pg parses and plans once per connection, then reuses by name: for hot statements. */
export interface Prepared {
  name: string;
  text: string;
}

/** A named statement (see Prepared); the name must be unique to its text. */
export function prepared(name: string, text: string): Prepared {
  return { name, text };
}

/** Where a port runs its statements: the pool (autocommit) or the client of one transaction. */
export interface Sql {
  query<R extends QueryResultRow = QueryResultRow>(
    statement: string | Prepared,
    values?: unknown[],
  ): Promise<{ rows: R[]; rowCount: number | null }>;
  /**
   * Runs statements that may fail on their input (a duplicate key, a missing peer) so that, inside a
   * caller's transaction, such a failure undoes only them (a savepoint) and the transaction goes on, as on
   * SQLite; a PostgreSQL error otherwise aborts the whole transaction. Elsewhere it just runs them. Not
   * for hot statements: each savepoint is a subtransaction, and hundreds in one transaction slow the server.
   */
  guarded<T>(statements: () => Promise<T>): Promise<T>;
  /**
   * True on a transaction's client, which holds the store's write lock from BEGIN to COMMIT: what it read
   * of a seq-ordered table can then change only by its own writes. False on the pool.
   */
  readonly locked: boolean;
}

/**
 * How a call touches the database, which decides where it runs:
 * - `read`: one statement (one snapshot), on the pool outside a transaction;
 * - `write`: one autocommit statement on the pool outside a transaction, that cannot reorder a feed;
 * - `serial`: writes to a seq-ordered table (facts, audit log, revocations) or read-modify-writes: they run
 *   in a transaction holding the store's write lock, so seq order is commit order across processes.
 * Inside a transaction every call runs on that transaction's client.
 */
export type Access = 'read' | 'write' | 'serial';

/** Runs one port call where the store chooses for that access. */
export type Run<O> = <T>(access: Access, call: (ops: O) => Promise<T>) => Promise<T>;

/** The SQLSTATE of a server error (`23505`, …) or the code of a socket error (`ECONNREFUSED`), or ''. */
export function pgCode(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : '';
}

/** SQLSTATE of a duplicate key (SQLite: SQLITE_CONSTRAINT_UNIQUE / _PRIMARYKEY). */
export const UNIQUE_VIOLATION = '23505';
/** SQLSTATE of a missing referenced row (SQLite: SQLITE_CONSTRAINT_FOREIGNKEY). */
export const FOREIGN_KEY_VIOLATION = '23503';

/** Class 23 (integrity constraint: not null, check, unique, foreign key), what SQLite calls SQLITE_CONSTRAINT. */
export function isConstraintViolation(error: unknown): boolean {
  return pgCode(error).startsWith('23');
}

/** Class 22 (data exception: a NUL byte in text, a number out of range): a value no column can hold. */
export function isDataException(error: unknown): boolean {
  return pgCode(error).startsWith('22');
}

/**
 * True when a lookup value holds a NUL character: PostgreSQL text cannot hold one, so no stored row can
 * match it, and sending it would fail the statement (22021) where SQLite just finds nothing. Lookups by
 * values a client chooses (a fact id in a URL, a list filter) answer "not found" instead.
 */
export function unmatchable(...values: (string | undefined)[]): boolean {
  return values.some((value) => value?.includes('\u0000'));
}

/** `$from, $from+1, …` for `count` parameters. */
export function placeholders(count: number, from = 1): string {
  return Array.from({ length: count }, (_, i) => `$${from + i}`).join(', ');
}

/** A bigint column (returned as a decimal string by pg) as a number: seqs stay below 2^53. */
export function toNumber(value: string | number): number {
  return typeof value === 'number' ? value : Number(value);
}
