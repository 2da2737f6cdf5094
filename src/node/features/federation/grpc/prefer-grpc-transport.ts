// The node's peer transport when it runs a gRPC listener: replication prefers a gRPC stream to a peer whose
// signed manifest advertises a gRPC endpoint, and falls back to HTTPS pages when that endpoint is not
// reachable (counted by reason; gRPC is tried again after a while). Everything else (manifests,
// revocations, wakes) stays on HTTPS, which every peer serves.
import { NodeError } from '../../../errors.ts';
import type { ManifestEndpoints } from '../../identity/manifest.ts';
import type { FeedRequest, FeedSubscription, PeerAddress, PeerTransport } from '../peer-transport.ts';
import type { GrpcPeerTransport } from './grpc-peer-transport.ts';

/** After gRPC to a peer failed to connect, its pulls use HTTPS this long before gRPC is tried again. */
export const GRPC_RETRY_AFTER_MS = 30_000;

export interface PreferGrpcTransportOptions {
  https: PeerTransport;
  grpc: GrpcPeerTransport;
  /** A pull fell back to HTTPS, and why (`grpc_unavailable:<reason>`). */
  onFallback?(peer: PeerAddress, reason: string): void;
  retryAfterMs?: number;
  now?: () => number;
}

export class PreferGrpcTransport implements PeerTransport {
  /** The gRPC endpoint each peer's last verified manifest advertised (null: it advertised none). */
  readonly #endpoints = new Map<string, string | null>();
  /** Peers whose gRPC endpoint failed, until when (ms) their pulls use HTTPS. */
  readonly #downUntil = new Map<string, number>();
  readonly #lookedUpAt = new Map<string, number>();
  /**
   * Fetches (and verifies) the peer's manifest, so that `learn` hears its endpoints; used when none are
   * known for a peer. Set by the wire, whose verified manifest fetch runs over this transport.
   */
  lookup: (peer: PeerAddress) => Promise<unknown> = async () => undefined;

  constructor(private readonly options: PreferGrpcTransportOptions) {}

  /** Records what a verified manifest advertises (every manifest fetch of the node passes through here). */
  learn(entityUri: string, endpoints: ManifestEndpoints | undefined): void {
    this.#endpoints.set(entityUri, endpoints?.grpc ?? null);
  }

  /** The gRPC endpoint last advertised by this peer; undefined when unknown or none. */
  grpcEndpointOf(peer: Pick<PeerAddress, 'entityUri'>): string | undefined {
    return this.#endpoints.get(peer.entityUri) ?? undefined;
  }

  fetchManifest(federationUrl: string) {
    return this.options.https.fetchManifest(federationUrl);
  }

  pullFacts(peer: PeerAddress, token: string, request: FeedRequest) {
    return this.options.https.pullFacts(peer, token, request);
  }

  pullRevocations(peer: PeerAddress, token: string, request: FeedRequest) {
    return this.options.https.pullRevocations(peer, token, request);
  }

  wake(peer: PeerAddress, token: string) {
    return this.options.https.wake(peer, token);
  }

  async subscribeFacts(
    peer: PeerAddress,
    token: string,
    request: FeedRequest,
  ): Promise<FeedSubscription | null> {
    const now = (this.options.now ?? Date.now)();
    const retryAfter = this.options.retryAfterMs ?? GRPC_RETRY_AFTER_MS;
    if ((this.#downUntil.get(peer.entityUri) ?? 0) > now) return null;
    // Not known since start: learn it from the peer's manifest (at most once per retry period).
    if (
      !this.#endpoints.has(peer.entityUri) &&
      now - (this.#lookedUpAt.get(peer.entityUri) ?? -Infinity) >= retryAfter
    ) {
      this.#lookedUpAt.set(peer.entityUri, now);
      await this.lookup(peer).catch(() => undefined);
    }
    if (!this.grpcEndpointOf(peer)) return null;
    try {
      return await this.options.grpc.subscribeFacts(peer, token, request);
    } catch (error) {
      const reason = error instanceof NodeError ? error.extra.peer_error : undefined;
      if (typeof reason !== 'string' || !reason.startsWith('grpc_unavailable')) throw error;
      this.#downUntil.set(peer.entityUri, now + retryAfter);
      this.options.onFallback?.(peer, reason);
      return null;
    }
  }

  streamRetryAfterMs(peer: PeerAddress): number | undefined {
    const until = this.#downUntil.get(peer.entityUri);
    if (until === undefined) return undefined;
    return Math.max(0, until - (this.options.now ?? Date.now)());
  }

  async close(): Promise<void> {
    await Promise.allSettled([this.options.grpc.close(), this.options.https.close()]);
  }
}
