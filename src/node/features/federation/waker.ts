// Push wake: after local writes tell every approved peer to pull now, so replication takes milliseconds
// instead of a poll interval. The first write after a quiet spell wakes the peers at once; the writes of
// the next `debounceMs` are coalesced into one more wake at its end, so a burst costs two wakes, and an
// idle node adds no delay. A lost wake costs only latency: the peer's regular pull still comes.
import type { Logger } from '../../../tls/logger.ts';
import type { PeerDirectory } from '../peers/peer-directory.ts';
import type { FederationClient } from './client.ts';

export class Waker {
  #timer: NodeJS.Timeout | undefined;
  /** A write came in during the current window: wake once more at its end. */
  #pending = false;
  #closed = false;

  constructor(
    private readonly options: {
      peers: PeerDirectory;
      client: FederationClient;
      debounceMs: number;
      logger: Logger;
    },
  ) {}

  /** A local write happened. */
  notify(): void {
    if (this.#closed) return;
    if (this.#timer) {
      this.#pending = true;
      return;
    }
    void this.#wakeAll();
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (!this.#pending) return;
      this.#pending = false;
      this.notify();
    }, this.options.debounceMs);
    this.#timer.unref();
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
  }

  async #wakeAll(): Promise<void> {
    await Promise.all(
      this.options.peers
        .approved()
        .map((peer) =>
          this.options.client
            .wake(peer)
            .catch((error: Error) =>
              this.options.logger.debug(
                { event: 'federation_wake_failed', peer: peer.entityUri, error: error.message },
                'wake not delivered; the peer will pull on its interval',
              ),
            ),
        ),
    );
  }
}
