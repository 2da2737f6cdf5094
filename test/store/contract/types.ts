// What the contract suite needs from a store implementation: a fresh, empty store per test.
import type { Store } from '../../../src/store/store.ts';

export interface StoreHandle {
  store: Store;
  /** Closes `store` and opens the same data again (durability); the new store replaces `store`. */
  reopen(): Promise<Store>;
  /** Closes the store (if still open) and removes its data. */
  cleanup(): Promise<void>;
}

export interface OpenStoreOptions {
  /** The store's clock (updatedAt of peers updated without one); default the system clock. */
  now?: () => Date;
}

/** Opens a new, empty store. */
export type OpenStore = (options?: OpenStoreOptions) => Promise<StoreHandle>;
