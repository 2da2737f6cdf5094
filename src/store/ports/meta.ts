// Small named values the node keeps between runs (e.g. the revocation cursor per peer).
export interface MetaStore {
  getMeta(key: string): Promise<string | null>;
  /** Inserts or replaces. */
  setMeta(key: string, value: string): Promise<void>;
}
