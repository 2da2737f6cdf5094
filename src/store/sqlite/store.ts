// The embedded Store: one SQLite file in WAL mode behind two connections. The writer runs every write and
// every transaction, one at a time through a FIFO queue, so an async `tx(fn)` owns the connection from
// BEGIN IMMEDIATE to COMMIT. The reader (query_only) serves reads outside transactions: WAL gives it the
// last committed snapshot, so it never sees a transaction in progress and never waits for one.
import { AsyncLocalStorage } from 'node:async_hooks';
import type Database from 'better-sqlite3';
import { StoreError } from '../errors.ts';
import { Mutex } from '../mutex.ts';
import type { Store, StoreOps } from '../store.ts';
import { bindStoreOps, SqliteOps } from './ops.ts';
import type { Access } from './sql.ts';

/** One transaction level: the outermost BEGIN, or a SAVEPOINT for a tx() called inside it. */
interface TxScope {
  active: boolean;
  /** Serializes the nested tx() calls of this level: savepoints must open and close as a stack. */
  children: Mutex;
  depth: number;
  parent: TxScope | null;
}

/** A level is usable only while it and every level around it are still open. */
function live(scope: TxScope | undefined): scope is TxScope {
  for (let level = scope; level; level = level.parent ?? undefined) if (!level.active) return false;
  return scope !== undefined;
}

/** SQLite result codes that mean the storage, not the statement, refused a write. */
const STORAGE_FAILURES = [
  'SQLITE_FULL',
  'SQLITE_READONLY',
  'SQLITE_IOERR',
  'SQLITE_CANTOPEN',
  'SQLITE_CORRUPT',
  'SQLITE_NOTADB',
];

/** The connections, the write queue and the transaction levels behind one Store. */
class SqliteEngine {
  readonly #file: string;
  readonly #writer: Database.Database;
  readonly #reader: Database.Database;
  readonly #writes: SqliteOps;
  readonly #reads: SqliteOps;
  readonly #queue = new Mutex();
  /** The transaction level the current async context runs in, if any. */
  readonly #context = new AsyncLocalStorage<TxScope>();
  #closed = false;
  #writeFailure: string | undefined;

  constructor(file: string, writer: Database.Database, reader: Database.Database, now: () => Date) {
    this.#file = file;
    this.#writer = writer;
    this.#reader = reader;
    this.#writes = new SqliteOps(writer, now);
    this.#reads = new SqliteOps(reader, now);
  }

  // Code inside tx(fn) that calls the store itself (not the tx handle) joins the transaction: queueing
  // behind it would deadlock, and reading from the reader would miss the transaction's own writes.
  async run<T>(access: Access, call: (ops: SqliteOps) => T): Promise<T> {
    this.#assertOpen();
    if (live(this.#context.getStore())) return call(this.#writes);
    if (access === 'read') return call(this.#reads);
    return this.#queue.run(async () => {
      this.#assertOpen();
      return this.#writing(() => call(this.#writes));
    });
  }

  /**
   * Why the last write failed for a storage reason (disk full, read-only file, I/O error), until a write
   * succeeds again: what readiness reports.
   */
  get writeFailure(): string | undefined {
    return this.#writeFailure;
  }

  #writing<T>(write: () => T): T {
    try {
      const result = write();
      this.#writeFailure = undefined;
      return result;
    } catch (error) {
      this.#noteFailure(error);
      throw error;
    }
  }

  #noteFailure(error: unknown): void {
    const code = String((error as { code?: unknown }).code ?? '');
    if (STORAGE_FAILURES.some((prefix) => code.startsWith(prefix)))
      this.#writeFailure = `${code}: ${(error as Error).message}`;
  }

  #assertOpen(): void {
    if (this.#closed) throw new StoreError('store_closed', `the store ${this.#file} is closed`);
  }

  #txOps(scope: TxScope): StoreOps {
    return bindStoreOps(async (_access, call) => {
      if (!live(scope))
        throw new StoreError('tx_finished', 'a transaction handle was used after its transaction ended');
      return call(this.#writes);
    });
  }

  async tx<T>(fn: (tx: StoreOps) => Promise<T>): Promise<T> {
    this.#assertOpen();
    const outer = this.#context.getStore();
    if (live(outer)) return outer.children.run(() => this.#savepoint(outer, fn));
    return this.#queue.run(async () => {
      this.#assertOpen();
      const scope: TxScope = { active: true, children: new Mutex(), depth: 0, parent: null };
      this.#writer.exec('BEGIN IMMEDIATE');
      try {
        const result = await this.#context.run(scope, () => fn(this.#txOps(scope)));
        // Work fn started but did not await (a nested tx, a stray call) must not run after COMMIT.
        scope.active = false;
        this.#writing(() => this.#writer.exec('COMMIT'));
        return result;
      } catch (error) {
        // SQLite may already have rolled back by itself (e.g. on SQLITE_FULL).
        if (this.#writer.inTransaction) this.#writer.exec('ROLLBACK');
        this.#noteFailure(error);
        throw error;
      } finally {
        scope.active = false;
      }
    });
  }

  /** tx() inside tx(): a savepoint, so a nested failure the caller catches undoes only its own writes. */
  async #savepoint<T>(outer: TxScope, fn: (tx: StoreOps) => Promise<T>): Promise<T> {
    if (!live(outer))
      throw new StoreError('tx_finished', 'a nested transaction started after its parent ended');
    const scope: TxScope = { active: true, children: new Mutex(), depth: outer.depth + 1, parent: outer };
    const name = `tx_${scope.depth}`;
    this.#writer.exec(`SAVEPOINT ${name}`);
    try {
      const result = await this.#context.run(scope, () => fn(this.#txOps(scope)));
      this.#writer.exec(`RELEASE ${name}`);
      return result;
    } catch (error) {
      if (this.#writer.inTransaction) {
        this.#writer.exec(`ROLLBACK TO ${name}`);
        this.#writer.exec(`RELEASE ${name}`);
      }
      throw error;
    } finally {
      scope.active = false;
    }
  }

  get closed(): boolean {
    return this.#closed;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    await this.#queue.run(async () => {
      if (this.#closed) return;
      this.#closed = true;
      this.#reader.close();
      try {
        this.#writer.pragma('optimize');
      } finally {
        this.#writer.close(); // the last connection to close checkpoints the WAL and removes it
      }
    });
  }
}

/** The Store over an opened, migrated writer and reader (open.ts opens them). */
export function sqliteStore(
  file: string,
  writer: Database.Database,
  reader: Database.Database,
  now: () => Date,
): Store {
  const engine = new SqliteEngine(file, writer, reader, now);
  const ops = bindStoreOps((access, call) => engine.run(access, call));
  // One writer process: a lease only has to be exclusive within it.
  const leases = new Set<string>();
  // One process: notifications go to its own subscribers, after the caller's turn (as NOTIFY's would).
  const channels = new Map<string, Set<(payload: string) => void>>();
  return {
    ...ops,
    buckets: null,
    shared: false,
    async notify(channel, payload) {
      if (engine.closed) throw new StoreError('store_closed', 'the SQLite store is closed');
      const listeners = [...(channels.get(channel) ?? [])];
      queueMicrotask(() => {
        for (const listener of listeners)
          try {
            listener(payload);
          } catch {
            // A listener's failure is its own.
          }
      });
    },
    subscribe(channel, listener) {
      const listeners = channels.get(channel) ?? new Set();
      channels.set(channel, listeners);
      listeners.add(listener);
      return () => void listeners.delete(listener);
    },
    async lease(name) {
      if (leases.has(name)) return null;
      leases.add(name);
      let released = false;
      return {
        release: async () => {
          if (released) return;
          released = true;
          leases.delete(name);
        },
      };
    },
    tx: (fn) => engine.tx(fn),
    async writable() {
      if (engine.closed) return { ok: false, reason: 'the store is closed' };
      // A real, durable write: it fails on a read-only or full file system, not just on a lock. After a
      // storage failure of a real write, the probe is as large as a big fact page (64 KiB), so readiness
      // comes back only once writes of that size fit again.
      const recovering = engine.writeFailure !== undefined;
      const stamp = new Date().toISOString();
      try {
        await ops.setMeta('readyz_probe', recovering ? stamp + ' '.repeat(64 * 1024) : stamp);
      } catch (error) {
        return { ok: false, reason: engine.writeFailure ?? (error as Error).message };
      }
      // The large value is shrunk again; if even that fails, the failure it records is the answer.
      if (recovering) await ops.setMeta('readyz_probe', stamp).catch(() => undefined);
      const failure = engine.writeFailure;
      return failure ? { ok: false, reason: failure } : { ok: true };
    },
    close: () => engine.close(),
  };
}
