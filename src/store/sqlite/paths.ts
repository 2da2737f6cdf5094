// Where the node database lives in a data directory. Apart from open.ts so that a command can name the
// file (in a message, a stat) without loading the SQLite driver.
import { join } from 'node:path';

/** The node database's name inside its data directory. */
export const DATABASE_FILE = 'tessera.db';

export function databasePath(dataDir: string): string {
  return join(dataDir, DATABASE_FILE);
}
