// The embedded Store: one SQLite file in WAL mode behind two connections. The writer runs every write and
// every transaction through a FIFO queue, so an async `tx(fn)` owns the connection from BEGIN IMMEDIATE to
// COMMIT. Group commit: the writes and transactions that arrived while the previous commit ran share one
// BEGIN … COMMIT (one fsync), each in its own savepoint, and every caller is answered only after that
// COMMIT is durable; a member that fails undoes only its savepoint. The reader (query_only) serves reads
// outside transactions: WAL gives it the last committed snapshot, so it never sees a transaction in
// progress and never waits for one.
import type Database from 'better-sqlite3';
import { StoreError } from '../errors.ts';
import { Mutex } from '../mutex.ts';
import type { Store, StoreOps } from '../store.ts';
import { TxContext } from '../tx-context.ts';
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

/** One write or outer transaction waiting for its group's COMMIT. */
interface GroupMember {
  work: (scope: TxScope) => Promise<unknown>;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

/** At most this many writes share one COMMIT, so one group's latency stays bounded. */
const MAX_GROUP = 256;

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
  /** The writer's operations as StoreOps, for transaction handles (see #txOps). */
  readonly #writerOps: StoreOps;
  readonly #reads: SqliteOps;
  readonly #queue = new Mutex();
  /** Writes and transactions waiting for the next group commit. */
  readonly #pending: GroupMember[] = [];
  #groupScheduled = false;
  #commits = 0;
  #committedMembers = 0;
  /** The transaction level the current async context runs in, if any. */
  readonly #context = new TxContext<TxScope>();
  #closed = false;
  #writeFailure: string | undefined;

  constructor(file: string, writer: Database.Database, reader: Database.Database, now: () => Date) {
    this.#file = file;
    this.#writer = writer;
    this.#reader = reader;
    this.#writes = new SqliteOps(writer, now);
    this.#writerOps = bindStoreOps(async (_access, call) => call(this.#writes));
    this.#reads = new SqliteOps(reader, now);
  }

  // Code inside tx(fn) that calls the store itself (not the tx handle) joins the transaction: queueing
  // behind it would deadlock, and reading from the reader would miss the transaction's own writes.
  async run<T>(access: Access, call: (ops: SqliteOps) => T): Promise<T> {
    this.#assertOpen();
    if (live(this.#context.current())) return call(this.#writes);
    if (access === 'read') return call(this.#reads);
    return this.#enqueue(async () => call(this.#writes));
  }

  /** Outer transactions and writes committed so far, and the COMMITs they took (group commit shares them). */
  get commitStats(): { transactions: number; commits: number } {
    return { transactions: this.#committedMembers, commits: this.#commits };
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

  /**
   * A transaction's handle: the writer's operations, bound once per store (binding them per transaction
   * cost every write dozens of closures), seen through a view that refuses them once the scope has ended.
   */
  #txOps(scope: TxScope): StoreOps {
    return new Proxy(this.#writerOps, {
      get: (ops, key) => {
        const operation = Reflect.get(ops, key);
        if (typeof operation !== 'function' || live(scope)) return operation;
        return () =>
          Promise.reject(
            new StoreError('tx_finished', 'a transaction handle was used after its transaction ended'),
          );
      },
    });
  }

  async tx<T>(fn: (tx: StoreOps) => Promise<T>): Promise<T> {
    this.#assertOpen();
    const outer = this.#context.current();
    if (live(outer)) return outer.children.run(() => this.#savepoint(outer, fn));
    return this.#enqueue((scope) => fn(this.#txOps(scope)));
  }

  /**
   * Queues one write or transaction for the next group. The group starts on the event loop's check phase
   * (setImmediate), after the I/O callbacks of this turn have queued theirs, so requests that arrive
   * together share a commit; an idle node's single write starts at once all the same.
   */
  #enqueue<T>(work: (scope: TxScope) => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#pending.push({ work, resolve, reject } as GroupMember);
      if (this.#groupScheduled) return;
      this.#groupScheduled = true;
      setImmediate(() => void this.#queue.run(() => this.#runGroup()));
    });
  }

  /** One BEGIN IMMEDIATE … COMMIT for the members waiting now; members arriving meanwhile form the next. */
  async #runGroup(): Promise<void> {
    this.#groupScheduled = false;
    const members = this.#pending.splice(0, MAX_GROUP);
    if (this.#pending.length > 0) {
      this.#groupScheduled = true;
      setImmediate(() => void this.#queue.run(() => this.#runGroup()));
    }
    if (members.length === 0) return;
    if (this.#closed) {
      const error = new StoreError('store_closed', `the store ${this.#file} is closed`);
      for (const member of members) member.reject(error);
      return;
    }
    const group: TxScope = { active: true, children: new Mutex(), depth: 0, parent: null };
    const outcomes: Array<{ ok: true; value: unknown } | { ok: false; error: unknown }> = [];
    try {
      this.#writer.exec('BEGIN IMMEDIATE');
    } catch (error) {
      this.#noteFailure(error);
      for (const member of members) member.reject(error);
      return;
    }
    let lost: unknown;
    for (const [index, member] of members.entries()) {
      // Alone in its group, a member is the transaction itself (no savepoint to pay for).
      const scope: TxScope =
        members.length === 1 ? group : { active: true, children: new Mutex(), depth: 1, parent: group };
      try {
        if (scope !== group) this.#writer.exec('SAVEPOINT tx_1');
        const value = await this.#context.run(scope, () => member.work(scope));
        // Work the member started but did not await must not run after its savepoint closes.
        scope.active = false;
        if (scope !== group) this.#writer.exec('RELEASE tx_1');
        outcomes.push({ ok: true, value });
      } catch (error) {
        scope.active = false;
        outcomes.push({ ok: false, error });
        this.#noteFailure(error);
        // SQLite may have rolled the whole transaction back by itself (e.g. on SQLITE_FULL): every member
        // before this one lost its writes too, and those after it start again in the next group.
        if (!this.#writer.inTransaction) {
          lost = error;
          this.#pending.unshift(...members.slice(index + 1));
          if (!this.#groupScheduled && this.#pending.length > 0) {
            this.#groupScheduled = true;
            setImmediate(() => void this.#queue.run(() => this.#runGroup()));
          }
          members.length = index + 1;
          break;
        }
        if (scope !== group) {
          try {
            this.#writer.exec('ROLLBACK TO tx_1');
            this.#writer.exec('RELEASE tx_1');
          } catch (rollback) {
            lost = rollback;
            break;
          }
        }
      }
    }
    group.active = false;
    if (lost === undefined && members.length === 1 && outcomes[0]?.ok === false) {
      // A lone member that failed: its transaction is rolled back whole, as before group commit.
      if (this.#writer.inTransaction) this.#writer.exec('ROLLBACK');
      members[0]?.reject(outcomes[0].error);
      return;
    }
    if (lost === undefined) {
      try {
        this.#writing(() => this.#writer.exec('COMMIT'));
        this.#commits += 1;
      } catch (error) {
        lost = error;
      }
    }
    if (lost !== undefined) {
      if (this.#writer.inTransaction) this.#writer.exec('ROLLBACK');
      this.#noteFailure(lost);
    }
    for (const [index, member] of members.entries()) {
      const outcome = outcomes[index];
      if (outcome?.ok === false) member.reject(outcome.error);
      else if (lost !== undefined) member.reject(lost);
      else {
        this.#committedMembers += 1;
        member.resolve(outcome?.value);
      }
    }
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
      // Writes already accepted are committed before the store closes, not refused.
      while (this.#pending.length > 0) await this.#runGroup();
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

/** The embedded Store, with what group commit did so far (tests and benchmarks read it). */
export interface SqliteStore extends Store {
  /** Outer transactions and writes committed, and the COMMITs (fsyncs) they took between them. */
  readonly commitStats: { transactions: number; commits: number };
}

/** The Store over an opened, migrated writer and reader (open.ts opens them). */
export function sqliteStore(
  file: string,
  writer: Database.Database,
  reader: Database.Database,
  now: () => Date,
): SqliteStore {
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
    get commitStats() {
      return engine.commitStats;
    },
  };
}
