// The PostgreSQL Store: a pool of connections. Reads and single-statement writes outside a transaction run
// on the pool (autocommit). A transaction (tx, or a call that writes a seq-ordered table) gets a client and,
// right after BEGIN, the schema's write lock (pg_advisory_xact_lock), held until it commits: writers on
// every replica take turns, so a seq is always assigned after every lower seq committed and a feed reader
// that saw seq N can never later see a lower one appear. In one process, the transactions that queue up
// meanwhile share the next one (group-commit.ts): one lock wait and one durable COMMIT for the group.
import type { Pool } from 'pg';
import { StoreError } from '../errors.ts';
import { Mutex } from '../mutex.ts';
import type { Store, StoreOps } from '../store.ts';
import { TxContext } from '../tx-context.ts';
import { postgresBuckets } from './buckets.ts';
import { asUnavailable, describeFailure, isServerFailure } from './failures.ts';
import { GroupCommit } from './group-commit.ts';
import type { AdvisoryLocks } from './locks.ts';
import { bindStoreOps, PgOps } from './ops.ts';
import { PgSession } from './session.ts';
import type { Access } from './sql.ts';
import { live, TxConnection, type TxScope, txFinished } from './tx-scope.ts';

/** What the store needs besides its pool (open.ts resolves it). */
export interface PostgresStoreContext {
  /** The schema the pool's connections use (their search_path), for messages. */
  schema: string;
  locks: AdvisoryLocks;
  now: () => Date;
}

const ignore = (): void => undefined;

/** The pool, the group commit and the transaction levels behind one Store. */
class PostgresEngine {
  readonly #pool: Pool;
  readonly #context: PostgresStoreContext;
  readonly #poolOps: PgOps;
  readonly #groups: GroupCommit;
  /** The transaction level the current async context runs in, if any. */
  readonly #levels = new TxContext<TxScope>();
  /** Calls running on the pool: close() lets them finish before it ends the pool. */
  readonly #inFlight = new Set<Promise<unknown>>();
  #closed = false;
  /** Set by close(): no new write transaction is taken; the queued ones still run. */
  #closing: Promise<void> | undefined;
  #writeFailure: string | undefined;

  constructor(pool: Pool, context: PostgresStoreContext) {
    this.#pool = pool;
    this.#context = context;
    this.#groups = new GroupCommit((body) => this.#transaction(body));
    // Autocommit: each statement is its own transaction, so there is nothing for a guard to protect.
    this.#poolOps = new PgOps(
      {
        query: (statement, values) => pool.query(statement, values),
        guarded: (statements) => statements(),
        locked: false,
      },
      context.now,
    );
  }

  // Code inside tx(fn) that calls the store itself (not the tx handle) joins the transaction: queueing
  // behind it would deadlock, and reading from the pool would miss the transaction's own writes.
  async run<T>(access: Access, call: (ops: PgOps) => Promise<T>): Promise<T> {
    const level = this.#levels.current();
    if (live(level)) return this.#inLevel(level, call);
    this.#assertOpen();
    if (access === 'serial') {
      this.#assertNotClosing();
      // One call is the whole job: a failure undoes all of it, so its statements need no savepoint.
      return this.#groups.submit({ guard: false, run: (connection) => call(connection.ops) });
    }
    const running = access === 'read' ? call(this.#poolOps) : this.#writing(() => call(this.#poolOps));
    this.#inFlight.add(running);
    try {
      return await running;
    } finally {
      this.#inFlight.delete(running);
    }
  }

  /**
   * Why the last write failed for a server reason (disk full, read-only, connection lost), until a write
   * succeeds again: what readiness reports.
   */
  get writeFailure(): string | undefined {
    return this.#writeFailure;
  }

  async #writing<T>(write: () => Promise<T>): Promise<T> {
    try {
      const result = await write();
      this.#writeFailure = undefined;
      return result;
    } catch (error) {
      this.#noteFailure(error);
      throw error;
    }
  }

  #noteFailure(error: unknown): void {
    if (isServerFailure(error)) this.#writeFailure = describeFailure(error);
  }

  #assertOpen(): void {
    if (this.#closed)
      throw new StoreError('store_closed', `the PostgreSQL store (schema ${this.#context.schema}) is closed`);
  }

  #assertNotClosing(): void {
    if (this.#closing)
      throw new StoreError(
        'store_closed',
        `the PostgreSQL store (schema ${this.#context.schema}) is closing`,
      );
  }

  /** A call made inside a transaction level: on its client, once the calls before it are done. */
  #inLevel<T>(level: TxScope, call: (ops: PgOps) => Promise<T>): Promise<T> {
    const connection = level.connection;
    return connection.exclusive(async () => {
      if (!live(level)) throw txFinished();
      return call(connection.ops);
    });
  }

  #txOps(level: TxScope): StoreOps {
    return bindStoreOps(async (_access, call) => {
      if (!live(level)) throw txFinished();
      return this.#inLevel(level, call);
    });
  }

  /**
   * BEGIN and the write lock on a client of its own, `body`, then COMMIT (ROLLBACK when body throws). The
   * client is discarded, not pooled, when the connection failed on the way.
   */
  async #transaction<T>(body: (connection: TxConnection) => Promise<T>): Promise<T> {
    let broken = false;
    const client = await this.#writing(() => this.#pool.connect());
    // A connection lost while checked out emits 'error' on the client; the pending query rejects anyway.
    client.on('error', ignore);
    const connection = new TxConnection(client, this.#context.now);
    try {
      await client
        .query(`BEGIN; SELECT pg_advisory_xact_lock(${this.#context.locks.write})`)
        .catch((error) => {
          broken = true;
          throw error;
        });
      let result: T;
      try {
        result = await body(connection);
      } catch (error) {
        await connection
          .exclusive(() => client.query('ROLLBACK'))
          .catch(() => {
            broken = true;
          });
        throw error;
      }
      const commit = await this.#writing(() => connection.exclusive(() => client.query('COMMIT'))).catch(
        (error) => {
          broken = true;
          throw error;
        },
      );
      // COMMIT of a transaction an error aborted answers ROLLBACK: never report that as committed.
      if (commit.command !== 'COMMIT')
        throw new Error('the transaction was rolled back: a statement inside it failed');
      return result;
    } catch (error) {
      this.#noteFailure(error);
      throw error;
    } finally {
      client.off('error', ignore);
      client.release(broken);
    }
  }

  async tx<T>(fn: (tx: StoreOps) => Promise<T>): Promise<T> {
    const outer = this.#levels.current();
    if (live(outer)) return outer.children.run(() => this.#savepoint(outer, fn));
    this.#assertOpen();
    this.#assertNotClosing();
    return this.#groups.submit({
      guard: true,
      run: async (connection) => {
        const level: TxScope = { active: true, children: new Mutex(), depth: 0, parent: null, connection };
        try {
          return await this.#levels.run(level, () => fn(this.#txOps(level)));
        } finally {
          // Work fn started but did not await (a nested tx, a stray call) must not run after it ends.
          level.active = false;
        }
      },
    });
  }

  /** tx() inside tx(): a savepoint, so a nested failure the caller catches undoes only its own writes. */
  async #savepoint<T>(outer: TxScope, fn: (tx: StoreOps) => Promise<T>): Promise<T> {
    const { connection } = outer;
    const level: TxScope = {
      active: true,
      children: new Mutex(),
      depth: outer.depth + 1,
      parent: outer,
      connection,
    };
    const name = `tx_${level.depth}`;
    if (!live(outer))
      throw new StoreError('tx_finished', 'a nested transaction started after its parent ended');
    // Queued now, while the parent is open, so it runs before the parent's COMMIT even when fn is not awaited.
    await connection.exclusive(() => connection.client.query(`SAVEPOINT ${name}`));
    try {
      const result = await this.#levels.run(level, () => fn(this.#txOps(level)));
      await connection.exclusive(async () => {
        // The parent ended while fn ran (it did not await this tx): the client is no longer ours to use.
        if (!live(outer)) throw txFinished();
        await connection.client.query(`RELEASE SAVEPOINT ${name}`);
      });
      return result;
    } catch (error) {
      await connection
        .exclusive(async () => {
          if (live(outer)) {
            await connection.client.query(`ROLLBACK TO SAVEPOINT ${name}; RELEASE SAVEPOINT ${name}`);
            connection.forget();
          }
        })
        .catch(ignore);
      throw error;
    } finally {
      level.active = false;
    }
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Waits for the transaction in progress and the queued ones, and for calls on the pool; then ends it. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      await this.#groups.idle();
      this.#closed = true;
      await Promise.allSettled([...this.#inFlight]);
      await this.#pool.end();
    })();
    return this.#closing;
  }
}

/** The Store over an opened pool whose schema is migrated (open.ts opens it). */
export function postgresStore(pool: Pool, context: PostgresStoreContext): Store {
  const engine = new PostgresEngine(pool, context);
  const session = new PgSession(pool, context.schema);
  // A lost or refusing server reaches callers as StoreError store_unavailable (503), never as a raw pg error.
  const unavailable = (error: unknown): never => {
    throw asUnavailable(error);
  };
  const ops = bindStoreOps((access, call) => engine.run(access, call).catch(unavailable));
  const buckets = postgresBuckets(pool);
  return {
    ...ops,
    buckets: {
      take: (...args) => buckets.take(...args).catch(unavailable),
      prune: (nowMs) => buckets.prune(nowMs).catch(unavailable),
      lowest: (...args) => buckets.lowest(...args).catch(unavailable),
    },
    shared: true,
    tx: (fn) => engine.tx(fn).catch(unavailable),
    lease: (name) => session.lease(name),
    notify: (channel, payload) => session.notify(channel, payload),
    subscribe: (channel, listener, missed) => session.subscribe(channel, listener, missed),
    async writable() {
      if (engine.closed) return { ok: false, reason: 'the store is closed' };
      // A real, durable write: it fails on a full disk, a read-only server or a lost connection, not just
      // on a lock. After a server failure of a real write, the probe is as large as a big fact page (64 KiB),
      // so readiness comes back only once writes of that size fit again.
      const recovering = engine.writeFailure !== undefined;
      const stamp = new Date().toISOString();
      try {
        await ops.setMeta('readyz_probe', recovering ? stamp + ' '.repeat(64 * 1024) : stamp);
      } catch (error) {
        return { ok: false, reason: engine.writeFailure ?? describeFailure(error) };
      }
      // The large value is shrunk again; if even that fails, the failure it records is the answer.
      if (recovering) await ops.setMeta('readyz_probe', stamp).catch(ignore);
      const failure = engine.writeFailure;
      return failure ? { ok: false, reason: failure } : { ok: true };
    },
    close: async () => {
      await session.close();
      await engine.close();
    },
  };
}
