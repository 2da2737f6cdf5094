// Group commit: the write transactions of one process (tx() and the single calls that write a seq-ordered
// table) that queue up while a transaction holds the store's write lock share the next transaction: one
// BEGIN, one wait for the lock, one COMMIT (one flush of the write-ahead log) for all of them. Each job
// runs in a savepoint of its own, so a job that fails undoes only its own writes and the others go on; a
// job's result is handed out only after the COMMIT, so nothing is reported written before it is durable,
// and a failed COMMIT fails every job of the group. Jobs run one after the other in their queue order, each
// seeing what the ones before it wrote: seq order, HLC stamps and the audit chain stay as one-by-one.
import type { TxConnection } from './tx-scope.ts';

/** One write transaction: what it runs on the shared connection, and how (see TxConnection.guard). */
export interface GroupJob<T> {
  /** Guarded statements get their own savepoint (a caller's tx(), which may catch their failure). */
  guard: boolean;
  run(connection: TxConnection): Promise<T>;
}

/** Runs `body` in one transaction holding the write lock: committed when it resolves, else rolled back. */
export type LockedTransaction = <T>(body: (connection: TxConnection) => Promise<T>) => Promise<T>;

interface Queued extends GroupJob<unknown> {
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

/** Most jobs per transaction: each is a subtransaction, and more than 64 slow every reader's snapshot. */
export const MAX_GROUP = 32;

export class GroupCommit {
  readonly #transaction: LockedTransaction;
  readonly #maxJobs: number;
  #queue: Queued[] = [];
  #draining: Promise<void> | undefined;

  constructor(transaction: LockedTransaction, maxJobs = MAX_GROUP) {
    this.#transaction = transaction;
    this.#maxJobs = maxJobs;
  }

  /** Queues a job; it settles once its group has committed (or failed). */
  submit<T>(job: GroupJob<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#queue.push({ ...job, resolve: resolve as (value: unknown) => void, reject });
      // Started on a later tick, so the jobs submitted in this one join the first group.
      this.#draining ??= Promise.resolve().then(() => this.#drain());
    });
  }

  /** Resolves once every job submitted so far has settled. */
  async idle(): Promise<void> {
    while (this.#draining) await this.#draining;
  }

  async #drain(): Promise<void> {
    try {
      while (this.#queue.length > 0) await this.#commitNext();
    } finally {
      this.#draining = undefined;
    }
  }

  /** Commits the next group: the jobs queued once the lock is held (at most maxJobs). */
  async #commitNext(): Promise<void> {
    const results = new Map<Queued, { ok: true; value: unknown } | { ok: false; error: unknown }>();
    let group: Queued[] = [];
    try {
      await this.#transaction(async (connection) => {
        // Taken only now that the lock is held: the jobs that queued up while another replica held it
        // join this group, so contention makes groups larger rather than more numerous.
        group = this.#queue.splice(0, this.#maxJobs);
        if (group.length === 1) {
          // Alone: the transaction is the job's, and its failure rolls the transaction back.
          const job = group[0]!;
          connection.guard = job.guard;
          results.set(job, { ok: true, value: await job.run(connection) });
          return;
        }
        for (const [index, job] of group.entries()) {
          connection.guard = job.guard;
          // The savepoint of the job before is released and a new one set, in one round trip.
          await connection.exclusive(() =>
            connection.client.query(index === 0 ? 'SAVEPOINT job' : 'RELEASE SAVEPOINT job; SAVEPOINT job'),
          );
          try {
            results.set(job, { ok: true, value: await job.run(connection) });
          } catch (error) {
            results.set(job, { ok: false, error });
            // If even this fails the connection is gone: the whole group fails below.
            await connection.exclusive(() => connection.client.query('ROLLBACK TO SAVEPOINT job'));
            connection.forget();
          }
        }
      });
    } catch (error) {
      // No connection, no lock: the jobs it would have run fail with that (the queue is not retried forever).
      if (group.length === 0) group = this.#queue.splice(0, this.#maxJobs);
      for (const job of group) {
        const own = results.get(job);
        job.reject(own && !own.ok ? own.error : error);
      }
      return;
    }
    for (const job of group) {
      const result = results.get(job);
      if (result?.ok) job.resolve(result.value);
      else job.reject(result?.error ?? new Error('a job of a committed group did not run'));
    }
  }
}
