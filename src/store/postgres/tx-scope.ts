// The levels of one transaction on its dedicated client: the outermost BEGIN, a SAVEPOINT for each tx()
// called inside it, and a SAVEPOINT around each guarded call (sql.ts), so a failure the caller catches
// undoes only that call and the transaction goes on, as on SQLite.
import type { PoolClient } from 'pg';
import { StoreError } from '../errors.ts';
import { Mutex } from '../mutex.ts';
import { PgOps } from './ops.ts';
import type { Sql } from './sql.ts';

/** The client of one outermost transaction, shared by all its levels. */
export class TxConnection {
  /**
   * One call at a time on the client: a call's statements (savepoint, statements, release) must not
   * interleave with another's, as callers may run several calls of one transaction at once (Promise.all).
   */
  readonly calls = new Mutex();
  #ops: PgOps;
  readonly #sql: Sql;
  readonly #now: () => Date;
  /**
   * Whether guarded statements get a savepoint (a caller's transaction, which may catch their failure) or
   * not (a single call, whose failure undoes the call as a whole). Set per job of a group (group-commit.ts).
   */
  guard = true;

  constructor(
    readonly client: PoolClient,
    now: () => Date,
  ) {
    this.#sql = {
      query: (statement, values) => client.query(statement, values),
      guarded: (statements) => (this.guard ? this.#savepoint(statements) : statements()),
      // BEGIN took the write lock (store.ts), held to the end.
      locked: true,
    };
    this.#now = now;
    this.#ops = new PgOps(this.#sql, now);
  }

  /** The ports on this client (what they remember of the locked transaction: see forget()). */
  get ops(): PgOps {
    return this.#ops;
  }

  /**
   * Called after a savepoint was rolled back: writes the ports remember (the last audit entry, the largest
   * HLC) may have been undone, so they read them again.
   */
  forget(): void {
    this.#ops = new PgOps(this.#sql, this.#now);
  }

  /** Runs statements on the client once no call is running (BEGIN/COMMIT, nested savepoints). */
  exclusive<T>(section: () => Promise<T>): Promise<T> {
    return this.calls.run(section);
  }

  async #savepoint<T>(statements: () => Promise<T>): Promise<T> {
    await this.client.query('SAVEPOINT call');
    try {
      const result = await statements();
      await this.client.query('RELEASE SAVEPOINT call');
      return result;
    } catch (error) {
      // If even this fails the connection is gone, and COMMIT will say so: the call's own error is the answer.
      await this.client.query('ROLLBACK TO SAVEPOINT call; RELEASE SAVEPOINT call').catch(() => undefined);
      this.forget();
      throw error;
    }
  }
}

/** One transaction level: the outermost BEGIN, or a SAVEPOINT for a tx() called inside it. */
export interface TxScope {
  active: boolean;
  /** Serializes the nested tx() calls of this level: savepoints must open and close as a stack. */
  children: Mutex;
  depth: number;
  parent: TxScope | null;
  connection: TxConnection;
}

/** A level is usable only while it and every level around it are still open. */
export function live(scope: TxScope | undefined): scope is TxScope {
  for (let level = scope; level; level = level.parent ?? undefined) if (!level.active) return false;
  return scope !== undefined;
}

/** The error of a call made through a transaction handle (or in a level) that already ended. */
export function txFinished(): StoreError {
  return new StoreError('tx_finished', 'a transaction handle was used after its transaction ended');
}
