// The federation's calls to a peer: a fresh single-use peer token per call (signed by our node key, for
// that peer as audience), carried by whichever peer transport the node runs (HTTPS today).
import type { KeyObject } from 'node:crypto';
import type { Clock } from '../../../tls/clock.ts';
import { mintPeerToken } from './peer-token.ts';
import type { FeedRequest, FeedSubscription, PeerAddress, PeerTransport } from './peer-transport.ts';

export interface FederationClientOptions {
  transport: PeerTransport;
  selfEntityUri: string;
  nodeKey: () => { privateKey: KeyObject; keyId: string };
  clock: Clock;
}

export class FederationClient {
  constructor(private readonly options: FederationClientOptions) {}

  get transport(): PeerTransport {
    return this.options.transport;
  }

  async pullFacts(peer: PeerAddress, request: FeedRequest): Promise<unknown> {
    return this.options.transport.pullFacts(peer, await this.#token(peer), request);
  }

  async pullRevocations(peer: PeerAddress, request: FeedRequest): Promise<unknown> {
    return this.options.transport.pullRevocations(peer, await this.#token(peer), request);
  }

  /** A live feed from the peer, or null when the transport has none to it (pull pages then). */
  async subscribeFacts(peer: PeerAddress, request: FeedRequest): Promise<FeedSubscription | null> {
    const { transport } = this.options;
    if (!transport.subscribeFacts) return null;
    return transport.subscribeFacts(peer, await this.#token(peer), request);
  }

  /** After a subscription fell back to pages: how soon a stream may be tried again (ms), if at all. */
  streamRetryAfterMs(peer: PeerAddress): number | undefined {
    return this.options.transport.streamRetryAfterMs?.(peer);
  }

  async wake(peer: PeerAddress): Promise<void> {
    await this.options.transport.wake(peer, await this.#token(peer));
  }

  #token(peer: PeerAddress): Promise<string> {
    const key = this.options.nodeKey();
    return mintPeerToken({
      privateKey: key.privateKey,
      keyId: key.keyId,
      issuer: this.options.selfEntityUri,
      audience: peer.entityUri,
      now: this.options.clock(),
    });
  }
}
