// The database holds peer tokens' ids and the node's view of its peers: owner-only, like its keys.
// SQLite gives -wal/-shm the main file's mode, so creating the file 0600 first covers them; they are
// chmod-ed after open as well in case they were left behind by an older run with a looser mode.
import { chmodSync, closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';

const OWNER_ONLY = 0o600;

export function databaseFiles(file: string): string[] {
  return [file, `${file}-wal`, `${file}-shm`];
}

/** Creates the directory (0700) and the database file (0600) if they are missing. */
export function prepareDatabaseFile(file: string): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  closeSync(openSync(file, 'a', OWNER_ONLY));
}

export function restrictDatabaseFiles(file: string): void {
  for (const path of databaseFiles(file)) {
    try {
      chmodSync(path, OWNER_ONLY);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }
}
