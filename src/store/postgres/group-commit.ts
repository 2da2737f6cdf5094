// Group commit: the write transactions of one process (tx() and the single calls that write a seq-ordered
// table) that queue up while a transaction holds the store's write lock share the next transaction: one
// BEGIN, one wait for the lock, one COMMIT (one flush of the write-ahead log) for all of them. Each job
// runs in a savepoint of its own, so a job that fails undoes only its own writes and the others go on; a
// job's result is handed out only after the COMMIT, so nothing is reported written before it is durable,
// and a failed COMMIT fails every job of the group. Jobs run one after the other in their queue order, each
// seeing what the ones before it wrote: seq order, HLC stamps and the audit chain stay as one-by-one.
import { pgCode } from './sql.ts';
import type { TxConnection } from './tx-scope.ts';

/** SQLSTATE of a statement sent after an earlier one aborted the transaction. */
const IN_FAILED_TRANSACTION = '25P02';

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

type Results = Map<Queued, { ok: true; value: unknown } | { ok: false; error: unknown }>;

/**
 * Ends a job's savepoint with `next`. A job that swallowed the error of a statement that aborted the
 * transaction (SQLSTATE 25P02 here) is undone alone and fails, as its own transaction would have failed at
 * COMMIT, instead of failing the whole group.
 */
async function closeJob(
  connection: TxConnection,
  job: Queued,
  results: Results,
  next: string,
): Promise<void> {
  try {
    await connection.exclusive(() => connection.client.query(next));
  } catch (error) {
    if (pgCode(error) !== IN_FAILED_TRANSACTION || !results.get(job)?.ok) throw error;
    await connection.exclusive(() => connection.client.query('ROLLBACK TO SAVEPOINT job'));
    connection.forget();
    results.set(job, {
      ok: false,
      error: new Error('the transaction was rolled back: a statement inside it failed'),
    });
    // The savepoint stays where it was (before this job): the next job starts from there.
  }
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
    const results: Results = new Map();
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
          // The savepoint of the job before is released and a new one set, in one round trip.
          if (index === 0) await connection.exclusive(() => connection.client.query('SAVEPOINT job'));
          else await closeJob(connection, group[index - 1]!, results, 'RELEASE SAVEPOINT job; SAVEPOINT job');
          connection.guard = job.guard;
          try {
            results.set(job, { ok: true, value: await job.run(connection) });
          } catch (error) {
            results.set(job, { ok: false, error });
            // If even this fails the connection is gone: the whole group fails below.
            await connection.exclusive(() => connection.client.query('ROLLBACK TO SAVEPOINT job'));
            connection.forget();
          }
        }
        await closeJob(connection, group.at(-1)!, results, 'RELEASE SAVEPOINT job');
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
