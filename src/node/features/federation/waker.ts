// Push wake: after local writes (debounced, so a burst costs one wake) tell every approved peer to pull
// now, so replication takes milliseconds instead of a poll interval. A lost wake costs only latency: the
// peer's regular pull still comes.
import type { Logger } from '../../../tls/logger.ts';
import type { PeerDirectory } from '../peers/peer-directory.ts';
import type { FederationClient } from './client.ts';

export class Waker {
  #timer: NodeJS.Timeout | undefined;
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
    if (this.#closed || this.#timer) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.#wakeAll();
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
