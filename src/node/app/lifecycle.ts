// The node's lifecycle in one place, in order.
//   start:  federation listener listens (a port-0 bind fixes the advertised URL), then the API listener,
//           then every feature starts (puller, watchers, timers).
//   reload: TLS material and key rings are read again (also done on file change, poll and SIGHUP).
//   drain:  features stop taking new work (reverse order), then both listeners close, letting requests
//           in flight finish.
//   close:  drain, then features release what they hold (reverse), then what the context opened (store,
//           credentials), newest first.
// A start that fails part-way closes whatever was opened, newest first, before the error propagates.
import type { Feature } from './feature.ts';

export interface Listener {
  readonly name: 'api' | 'federation' | 'grpc';
  listen(): Promise<void>;
  close(): Promise<void>;
}

type Step = () => unknown;

export class Lifecycle {
  readonly #held: Step[] = [];
  readonly #reloads: (() => Promise<unknown>)[] = [];
  #features: readonly Feature[] = [];
  #listeners: readonly Listener[] = [];
  #drained: Promise<void> | undefined;
  #closed: Promise<void> | undefined;

  /** A resource opened while building: closed on a failed start and last on close. */
  holds(close: Step): void {
    this.#held.push(close);
  }

  /** Something `reload()` reads again. */
  reloads(reload: () => Promise<unknown>): void {
    this.#reloads.push(reload);
  }

  /** Runs the build; if it throws, everything held so far is closed (newest first) and the error rethrown. */
  async build<T>(assemble: () => Promise<T>): Promise<T> {
    try {
      return await assemble();
    } catch (error) {
      await this.#release();
      throw error;
    }
  }

  /** What the node is made of, once assembled: from here on close() drains and closes all of it. */
  assembled(features: readonly Feature[], listeners: readonly Listener[]): void {
    this.#features = features;
    this.#listeners = listeners;
  }

  /** Listeners listen in the order assembled, then features start in compose order. */
  async start(): Promise<void> {
    const features = this.#features;
    const listeners = this.#listeners;
    try {
      for (const listener of listeners) await listener.listen();
      for (const feature of features) await feature.start?.();
    } catch (error) {
      await this.close();
      throw error;
    }
  }

  async reload(): Promise<void> {
    await Promise.all([
      ...this.#reloads.map((reload) => reload()),
      ...this.#features.map((feature) => feature.reload?.()),
    ]);
  }

  drain(): Promise<void> {
    this.#drained ??= (async () => {
      for (const feature of [...this.#features].reverse()) await settle(() => feature.drain?.());
      await Promise.allSettled(this.#listeners.map((listener) => listener.close()));
    })();
    return this.#drained;
  }

  close(): Promise<void> {
    this.#closed ??= (async () => {
      await this.drain();
      for (const feature of [...this.#features].reverse()) await settle(() => feature.close?.());
      await this.#release();
    })();
    return this.#closed;
  }

  async #release(): Promise<void> {
    for (const close of this.#held.splice(0).reverse()) await settle(close);
  }
}

const settle = (step: Step) =>
  Promise.resolve()
    .then(step)
    .catch(() => undefined);
