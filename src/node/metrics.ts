// Every metric of the node, declared once in the registry the node owns (the TLS core's metrics are
// declared in the same registry, so /metrics shows transport and node together). Built per node by the
// composition and handed to the features that count; nothing here is module-level state.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export type NodeMetrics = ReturnType<typeof createNodeMetrics>;

export function createNodeMetrics(registry: Registry, now: () => number = Date.now) {
  const registers = [registry];
  /** When each peer's feed was last drained completely (ms), for the replication lag gauge. */
  const caughtUpAt = new Map<string, number>();
  let sendBufferedMax = 0;
  return {
    /** One gRPC stream holds this many unsent pages now: raises the high-water gauge if it is a new high. */
    noteSendBuffered(pages: number): void {
      if (pages <= sendBufferedMax) return;
      sendBufferedMax = pages;
      this.grpcSendBufferedMax.set(pages);
    },
    markCaughtUp(peer: string, atMs: number): void {
      caughtUpAt.set(peer, atMs);
    },
    /** When this node last held everything the peer's feed offered (ms); undefined before that. */
    caughtUpAt(peer: string): number | undefined {
      return caughtUpAt.get(peer);
    },
    /** A revoked peer: its per-peer series go (a lag that grows for ever would alert on nothing). */
    forgetPeer(peer: string): void {
      caughtUpAt.delete(peer);
      this.replicationLag.remove({ peer });
      this.peerDegraded.remove({ peer });
      this.pagesRefused.remove({ peer });
      this.peerClockSkew.remove({ peer });
    },
    replicationLag: new Gauge({
      name: 'tessera_federation_replication_lag_seconds',
      help: "Seconds since this node last held everything a peer's feed offered (0 right after a complete pull)",
      labelNames: ['peer'] as const,
      registers,
      collect() {
        const at = now();
        for (const [peer, caught] of caughtUpAt) this.set({ peer }, Math.max(0, (at - caught) / 1000));
      },
    }),
    factsWritten: new Counter({
      name: 'tessera_facts_written_total',
      help: 'Facts asserted through the API and stored (duplicates of stored content not counted)',
      registers,
    }),
    factsReplicated: new Counter({
      name: 'tessera_facts_replicated_total',
      help: 'Facts received from a peer and stored, by peer entity URI',
      labelNames: ['peer'] as const,
      registers,
    }),
    factsRefused: new Counter({
      name: 'tessera_federation_facts_refused_total',
      help: 'Facts in a peer feed that failed validation (bad CID, schema, scope) and were skipped',
      labelNames: ['peer', 'reason'] as const,
      registers,
    }),
    pagesRefused: new Counter({
      name: 'tessera_federation_pages_refused_total',
      help: 'Feed pages refused as a whole (not JSON, invalid UTF-8, duplicate keys, too deep or too large, malformed page)',
      labelNames: ['peer', 'reason'] as const,
      registers,
    }),
    pulls: new Counter({
      name: 'tessera_federation_pulls_total',
      help: 'Federation pull cycles by peer and result',
      labelNames: ['peer', 'result'] as const,
      registers,
    }),
    lastPullSuccess: new Gauge({
      name: 'tessera_federation_last_pull_success_timestamp_seconds',
      help: 'Unix time of the last complete pull cycle from a peer',
      labelNames: ['peer'] as const,
      registers,
    }),
    peerDegraded: new Gauge({
      name: 'tessera_federation_peer_degraded',
      help: '1 while replication from a peer is degraded (stalled cursor, refused facts): it backs off',
      labelNames: ['peer'] as const,
      registers,
    }),
    peerClockSkew: new Gauge({
      name: 'tessera_federation_peer_clock_skew_seconds',
      help: "A peer's clock minus ours (positive: the peer is ahead), from the Date of its answers or the iat of its tokens",
      labelNames: ['peer'] as const,
      registers,
    }),
    grpcStreams: new Gauge({
      name: 'tessera_federation_grpc_streams',
      help: 'Open gRPC replication streams: role="sender" (peers subscribed to this node), "receiver" (this node subscribed to peers)',
      labelNames: ['role'] as const,
      registers,
    }),
    grpcStreamEnds: new Counter({
      name: 'tessera_federation_grpc_stream_ends_total',
      help: 'gRPC replication streams ended, by role and reason (stalled, idle, cancelled, peer_revoked, shutdown, error, unavailable …)',
      labelNames: ['role', 'reason'] as const,
      registers,
    }),
    grpcSendBuffered: new Gauge({
      name: 'tessera_federation_grpc_send_buffered_pages',
      help: 'Feed pages written to gRPC streams and not yet handed to the connection, summed over streams (each stream is capped by TESSERA_FEDERATION_GRPC_SEND_BUFFER_PAGES)',
      registers,
    }),
    grpcSendBufferedMax: new Gauge({
      name: 'tessera_federation_grpc_send_buffered_pages_max',
      help: 'The most feed pages one gRPC stream has held unsent at once since start (at most the cap)',
      registers,
    }),
    grpcFallbacks: new Counter({
      name: 'tessera_federation_grpc_fallbacks_total',
      help: 'Pulls that used HTTPS because the peer offers gRPC but its stream could not be opened, by reason',
      labelNames: ['peer', 'reason'] as const,
      registers,
    }),
    federationRejections: new Counter({
      name: 'tessera_federation_rejections_total',
      help: 'Federation requests refused after the handshake (token, binding, approval), by reason',
      labelNames: ['reason'] as const,
      registers,
    }),
    apiAuthFailures: new Counter({
      name: 'tessera_api_auth_failures_total',
      help: 'API requests refused with 401 (by reason: missing, malformed, unknown_key, bad_secret, expired, revoked) or 403 (forbidden)',
      labelNames: ['reason'] as const,
      registers,
    }),
    quotaBreaches: new Counter({
      name: 'tessera_quota_breaches_total',
      help: 'Requests refused with 429 because a principal exhausted its quota, by dimension',
      labelNames: ['dimension'] as const,
      registers,
    }),
    auditWriteFailures: new Counter({
      name: 'tessera_audit_write_failures_total',
      help: 'Audit entries that could not be written, by event type (each one is also logged as an error)',
      labelNames: ['event_type'] as const,
      registers,
    }),
    httpRequests: new Counter({
      name: 'tessera_http_requests_total',
      help: 'HTTP requests answered, by listener, route pattern, method and status',
      labelNames: ['listener', 'route', 'method', 'status'] as const,
      registers,
    }),
    httpLatency: new Histogram({
      name: 'tessera_http_request_duration_seconds',
      help: 'HTTP request latency from first byte to response, by listener and route pattern',
      labelNames: ['listener', 'route', 'method'] as const,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    }),
  };
}
