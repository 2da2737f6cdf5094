// Small helpers every SQLite port file shares: statement type, error code, named parameters, snapshots,
// and how a port's calls are routed to a connection.
import type Database from 'better-sqlite3';

export type Stmt<P extends unknown[] = unknown[], R = unknown> = Database.Statement<P, R>;

/** The SQLite result code of a driver error (`SQLITE_CONSTRAINT_UNIQUE`, …), or '' for anything else. */
export function sqliteCode(error: unknown): string {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' ? code : '';
}

/** `a, b` → `@a, @b`: the VALUES of an INSERT that binds an object with those column names. */
export function namedParams(columns: string): string {
  return columns
    .split(', ')
    .map((c) => `@${c}`)
    .join(', ');
}

/** Runs a read in one snapshot (a savepoint when a transaction is already open). */
export function snapshotOf(db: Database.Database): <T>(read: () => T) => T {
  const snapshot = db.transaction((read: () => unknown) => read());
  return <T>(read: () => T): T => snapshot(read) as T;
}

export type Access = 'read' | 'write';
/** Runs a synchronous call on the connection the store chooses for that access, as a Promise. */
export type Run<O> = <T>(access: Access, call: (ops: O) => T) => Promise<T>;

/**
 * The keyset-paged list statements of one table (`… WHERE <filter> AND seq > ? ORDER BY seq LIMIT ?`),
 * prepared once per filter shape: equal shapes share a statement. With `raw`, rows are arrays in the order
 * of `columns` (better-sqlite3's `.raw()`), and R should be the tuple type.
 */
export function pagedLists<R>(
  db: Database.Database,
  table: string,
  columns: string,
  options: { raw?: boolean } = {},
) {
  const prepared = new Map<string, Stmt<unknown[], R>>();
  return (key: string, where: string[]): Stmt<unknown[], R> => {
    let statement = prepared.get(key);
    if (!statement) {
      statement = db.prepare<unknown[], R>(
        `SELECT ${columns} FROM ${table} WHERE ${[...where, 'seq > ?'].join(' AND ')} ORDER BY seq LIMIT ?`,
      );
      if (options.raw) statement.raw();
      prepared.set(key, statement);
    }
    return statement;
  };
}
