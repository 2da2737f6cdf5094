// Which transaction the current async context runs in, for the stores: code inside tx(fn) that calls the
// store itself (not its handle) must join that transaction.
//
// On Node 20 and 22 an AsyncLocalStorage runs on async_hooks: once it has been used, every promise, timer
// and socket the process creates pays for an init hook and a trampoline, for the life of the process,
// where no transaction is open too (every read, every TLS handshake). So the storage is enabled only
// while a transaction runs and disabled when the last running one ends. A continuation left behind by a
// finished transaction then reads no transaction, as it read a finished one before: either way it does
// not join. (On Node 24 the storage needs no hooks; enabling and disabling it costs nothing there.)
import { AsyncLocalStorage } from 'node:async_hooks';

export class TxContext<Scope> {
  readonly #storage: AsyncLocalStorage<Scope>;
  #running = 0;

  /** `storage`: the AsyncLocalStorage to run on (tests pass one that records its calls). */
  constructor(storage: AsyncLocalStorage<Scope> = new AsyncLocalStorage<Scope>()) {
    this.#storage = storage;
  }

  /** The scope of the transaction this async context runs in, if one is running. */
  current(): Scope | undefined {
    return this.#running > 0 ? this.#storage.getStore() : undefined;
  }

  /** Transactions (nested ones included) whose `fn` is still running. */
  get running(): number {
    return this.#running;
  }

  /** Runs `fn` with `scope` as its async context's transaction. */
  async run<T>(scope: Scope, fn: () => Promise<T>): Promise<T> {
    this.#running += 1;
    try {
      return await this.#storage.run(scope, fn);
    } finally {
      this.#running -= 1;
      if (this.#running === 0) this.#storage.disable();
    }
  }
}
