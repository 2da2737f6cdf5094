// The local cache of a mesh node: string keys and values, an optional absolute expiry, and purge by key
// prefix. Expired entries are dropped when read and by sweep(); the clock is injectable for tests.

export interface Entry {
  value: string;
  /** Unix ms after which the entry is gone; null: no expiry. */
  expiresAt: number | null;
}

export class TtlCache {
  readonly #entries = new Map<string, Entry>();
  readonly #now: () => number;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  put(key: string, value: string, expiresAt: number | null): void {
    this.#entries.set(key, { value, expiresAt });
  }

  get(key: string): string | undefined {
    const entry = this.#entries.get(key);
    if (!entry) return undefined;
    if (this.#expired(entry)) {
      this.#entries.delete(key);
      return undefined;
    }
    return entry.value;
  }

  delete(key: string): boolean {
    return this.#entries.delete(key);
  }

  /** Removes every key starting with `prefix`; returns how many live entries went. */
  purge(prefix: string): number {
    let removed = 0;
    for (const [key, entry] of this.#entries) {
      if (!key.startsWith(prefix)) continue;
      this.#entries.delete(key);
      if (!this.#expired(entry)) removed++;
    }
    return removed;
  }

  /** Drops expired entries (call now and then so unread ones do not pile up). */
  sweep(): void {
    for (const [key, entry] of this.#entries) if (this.#expired(entry)) this.#entries.delete(key);
  }

  get size(): number {
    return this.#entries.size;
  }

  #expired(entry: Entry): boolean {
    return entry.expiresAt !== null && entry.expiresAt <= this.#now();
  }
}
