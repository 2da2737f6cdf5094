// The one place that opens a node database file: directory and file modes, connection pragmas, schema
// migration. The store, the CLI and the tests all open SQLite through here.
//
// The database holds peer tokens' ids and the node's view of its peers: owner-only, like its keys.
// SQLite gives -wal/-shm the main file's mode, so creating the file 0600 first covers them; they are
// chmod-ed after open as well in case they were left behind by an older run with a looser mode.
import { chmodSync, closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { StoreError } from '../errors.ts';
import { migrate } from './migrations.ts';
import { type SqliteStore, sqliteStore } from './store.ts';

export interface SqliteStoreOptions {
  /** How long a statement waits for a lock held by another process (ms); default 5000. */
  busyTimeoutMs?: number;
  /** Clock for `updatedAt` of peers updated without one; default the system clock. */
  now?: () => Date;
}

const OWNER_ONLY = 0o600;

function databaseFiles(file: string): string[] {
  return [file, `${file}-wal`, `${file}-shm`];
}

/** Creates the directory (0700) and the database file (0600) if they are missing. */
function prepareDatabaseFile(file: string): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  closeSync(openSync(file, 'a', OWNER_ONLY));
}

function restrictDatabaseFiles(file: string): void {
  for (const path of databaseFiles(file)) {
    try {
      chmodSync(path, OWNER_ONLY);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }
}

function openConnection(file: string, busyTimeoutMs: number): Database.Database {
  const db = new Database(file, { timeout: busyTimeoutMs });
  try {
    const mode = db.pragma('journal_mode = WAL', { simple: true });
    if (mode !== 'wal') throw new Error(`the file system refused WAL mode (journal_mode is ${String(mode)})`);
    db.pragma('synchronous = FULL');
    db.pragma('foreign_keys = ON');
    // 16 MiB of page cache: inserts touch eight b-trees (two keyed by random ids), and a replication of
    // 100k facts slows down by a third with the default 2 MiB.
    db.pragma('cache_size = -16000');
    return db;
  } catch (error) {
    db.close();
    throw error;
  }
}

/**
 * Opens (creating if missing) the node database at `file`: directory 0700, file and its WAL companions
 * 0600, WAL + synchronous=FULL + foreign keys, schema migrated. A database written by a newer release
 * is refused with StoreError `schema_too_new`.
 */
export async function openSqliteStore(file: string, options: SqliteStoreOptions = {}): Promise<SqliteStore> {
  if (file === '' || file === ':memory:' || file.startsWith('file:'))
    throw new TypeError(`openSqliteStore needs a file path (got ${JSON.stringify(file)})`);
  const busyTimeoutMs = options.busyTimeoutMs ?? 5000;
  prepareDatabaseFile(file);
  let writer: Database.Database | undefined;
  let reader: Database.Database | undefined;
  try {
    writer = openConnection(file, busyTimeoutMs);
    migrate(writer, file);
    reader = openConnection(file, busyTimeoutMs);
    reader.pragma('query_only = ON');
    restrictDatabaseFiles(file);
    return sqliteStore(file, writer, reader, options.now ?? (() => new Date()));
  } catch (error) {
    reader?.close();
    writer?.close();
    if (error instanceof StoreError) throw error;
    throw new StoreError(
      'store_open_failed',
      `cannot open the database ${file}: ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  }
}
