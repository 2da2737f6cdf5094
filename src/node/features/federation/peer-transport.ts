// The federation's port to "talk to this peer": everything replication, wakes, registration and manifest
// refresh need from the wire, and nothing about which wire it is. The HTTPS adapter (https/) is one
// implementation; a gRPC adapter is another. Adapters move bytes and prove the connection's certificate;
// what the bytes mean (tokens, manifests, feed pages) is checked by the federation code above the port.
import type { PeerIdentity } from '../../../tls/identity.ts';

/** Where a peer is and who it must prove to be. */
export interface PeerAddress {
  entityUri: string;
  federationUrl: string;
}

/** A peer's manifest as it arrived, not yet verified, with the certificate of the connection it came on. */
export interface ManifestResponse {
  body: unknown;
  /** The certificate the peer presented on that connection; null only when the transport has no TLS. */
  identity: PeerIdentity | null;
  /** The connection was TLS: the manifest must then be bound to `identity`. */
  secure: boolean;
  /** The peer's canonical address (for messages). */
  origin: string;
}

export interface FeedRequest {
  /** Cursor returned by the previous page; undefined = from the beginning. */
  cursor?: string;
  limit: number;
}

/** A live feed from a peer: its pages as they come (catch-up first, then as facts commit there). */
export interface FeedSubscription {
  /**
   * The pages, unvalidated (each the shape of a `pullFacts` answer), in order; ends only by throwing a
   * NodeError `peer_call_failed` (the stream broke, stalled or the peer ended it) or after `close()`.
   */
  pages(): AsyncIterable<unknown>;
  /** Ends the stream (the puller stops, the peer is revoked). */
  close(): void;
}

export interface PeerTransport {
  /** Fetches the manifest of the node at `federationUrl` on one fresh connection. Throws ManifestError. */
  fetchManifest(federationUrl: string): Promise<ManifestResponse>;
  /** One page of the peer's fact feed, unvalidated. Throws NodeError `peer_call_failed`. */
  pullFacts(peer: PeerAddress, token: string, request: FeedRequest): Promise<unknown>;
  /** One page of the peer's capability revocations, unvalidated. */
  pullRevocations(peer: PeerAddress, token: string, request: FeedRequest): Promise<unknown>;
  /**
   * Subscribes to the peer's feed after `request.cursor` (optional: only transports with streams have it).
   * Resolves null when this transport has no stream to this peer now (the caller pulls pages instead);
   * rejects with NodeError `peer_call_failed` when the peer refused the subscription.
   */
  subscribeFacts?(peer: PeerAddress, token: string, request: FeedRequest): Promise<FeedSubscription | null>;
  /**
   * After `subscribeFacts` resolved null because the peer's stream was unavailable: how soon (ms) a stream
   * may be tried again (the puller's next cycle comes no later). Undefined: no stream to retry.
   */
  streamRetryAfterMs?(peer: PeerAddress): number | undefined;
  /** Asks the peer to pull from us now. */
  wake(peer: PeerAddress, token: string): Promise<void>;
  close(): Promise<void>;
}
