// Continuous query load for the database rotation tests: N workers run one query after another until
// stopped, counting successes and keeping every failure, so a test can assert that none failed.

export interface QueryLoad {
  readonly ok: number;
  readonly failures: unknown[];
  /** Resolves once `count` more queries (from now) have succeeded; rejects if any query fails first. */
  progress(count: number): Promise<void>;
  /** Stops starting queries and resolves when the ones in flight are done. */
  stop(): Promise<{ ok: number; failures: unknown[] }>;
}

export function startQueryLoad(workers: number, query: () => Promise<unknown>): QueryLoad {
  let ok = 0;
  let running = true;
  const failures: unknown[] = [];
  const waiters = new Set<() => void>();
  const wake = () => {
    for (const waiter of [...waiters]) waiter();
  };
  const worker = async () => {
    while (running) {
      try {
        await query();
        ok++;
      } catch (error) {
        failures.push(error);
      }
      wake();
    }
  };
  const done = Promise.all(Array.from({ length: workers }, worker));
  return {
    get ok() {
      return ok;
    },
    failures,
    progress(count) {
      const target = ok + count;
      return new Promise((resolve, reject) => {
        const check = () => {
          if (failures.length > 0) {
            waiters.delete(check);
            reject(new Error(`a query failed under load: ${String(failures[0])}`));
          } else if (ok >= target) {
            waiters.delete(check);
            resolve();
          }
        };
        waiters.add(check);
        check();
      });
    },
    async stop() {
      running = false;
      await done;
      return { ok, failures };
    },
  };
}
