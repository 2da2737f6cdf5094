// The SQLite store in a fresh temp dir, for the contract suite and the SQLite-specific tests.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSqliteStore, type SqliteStoreOptions } from '../../src/store/sqlite/open.ts';
import type { Store } from '../../src/store/store.ts';

export interface TempStore {
  dir: string;
  file: string;
  store: Store;
  reopen(options?: SqliteStoreOptions): Promise<Store>;
  cleanup(): Promise<void>;
}

export async function tempStore(options?: SqliteStoreOptions): Promise<TempStore> {
  const dir = await mkdtemp(join(tmpdir(), 'tessera-store-'));
  const file = join(dir, 'data', 'tessera.db');
  const handle: TempStore = {
    dir,
    file,
    store: await openSqliteStore(file, options),
    async reopen(reopenOptions) {
      await handle.store.close();
      handle.store = await openSqliteStore(file, reopenOptions ?? options);
      return handle.store;
    },
    async cleanup() {
      await handle.store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
  return handle;
}
