// The node's wire to its peers: the peer transport (HTTPS: the mTLS agent for calls, one fresh connection
// per manifest fetch; with a gRPC listener, replication prefers a gRPC stream to peers that advertise one
// and falls back to HTTPS), the token-minting client on top of it, and the verified manifest fetch every
// feature uses (peer registration, key-rotation refresh), which also learns each peer's endpoints.
import type { NodeContext } from '../../app/context.ts';
import { type FetchedPeerManifest, fetchPeerManifest } from '../identity/fetch-manifest.ts';
import { FederationClient } from './client.ts';
import { GrpcPeerTransport } from './grpc/grpc-peer-transport.ts';
import { PreferGrpcTransport } from './grpc/prefer-grpc-transport.ts';
import { HttpsPeerTransport } from './https/https-peer-transport.ts';
import type { PeerTransport } from './peer-transport.ts';

export interface PeerWire {
  transport: PeerTransport;
  client: FederationClient;
  /** The manifest at `url`, verified and bound to the certificate it arrived with. */
  fetchManifest(url: string, expectedEntityUri?: string): Promise<FetchedPeerManifest>;
}

/**
 * The wire over `transport`; by default the HTTPS adapter built from the node's credentials, preferring
 * gRPC streams for replication when the node runs a gRPC listener (TESSERA_FEDERATION_GRPC_PORT).
 */
export function createPeerWire(ctx: NodeContext, given?: PeerTransport): PeerWire {
  const { clock } = ctx;
  const preferGrpc = given ? null : preferGrpcTransport(ctx);
  const transport = given ?? preferGrpc ?? httpsTransport(ctx);
  const client = new FederationClient({
    transport,
    selfEntityUri: ctx.config.entityUri,
    nodeKey: ctx.keys.nodeKey,
    clock,
  });
  const fetchManifest = async (url: string, expectedEntityUri?: string) => {
    const fetched = await fetchPeerManifest(transport, url, {
      now: clock(),
      ...(expectedEntityUri ? { expectedEntityUri } : {}),
    });
    preferGrpc?.learn(fetched.manifest.entity_uri, fetched.manifest.endpoints);
    return fetched;
  };
  if (preferGrpc) preferGrpc.lookup = (peer) => fetchManifest(peer.federationUrl, peer.entityUri);
  return { transport, client, fetchManifest };
}

function preferGrpcTransport(ctx: NodeContext): PreferGrpcTransport | null {
  const { credentials, config } = ctx;
  if (!config.grpc || !credentials) return null;
  const transport: PreferGrpcTransport = new PreferGrpcTransport({
    https: httpsTransport(ctx),
    grpc: new GrpcPeerTransport({
      credentials,
      endpointOf: (peer) => transport.grpcEndpointOf(peer),
      logger: ctx.logger,
      clock: ctx.clock,
      ...(ctx.expiry ? { expiry: ctx.expiry } : {}),
      metrics: ctx.tlsMetrics,
      connectTimeoutMs: config.pull.connectTimeoutMs,
      callTimeoutMs: config.pull.pageTimeoutMs,
      stallTimeoutMs: config.grpc.stallTimeoutMs,
    }),
    onFallback: (peer, reason) => {
      ctx.metrics.grpcFallbacks.inc({ peer: peer.entityUri, reason });
      ctx.logger.warn(
        { event: 'federation_grpc_fallback', peer: peer.entityUri, reason },
        'gRPC to the peer is unavailable; replicating over HTTPS for now',
      );
    },
  });
  return transport;
}

function httpsTransport(ctx: NodeContext): PeerTransport {
  const { credentials, peers, logger, clock } = ctx;
  return new HttpsPeerTransport({
    credentials,
    expectedIdentity: (origin) => peers.expectedIdentityFor(origin),
    logger,
    clock,
    ...(ctx.expiry ? { expiry: ctx.expiry } : {}),
    metrics: ctx.tlsMetrics,
    totalTimeoutMs: ctx.config.pull.pageTimeoutMs,
    connectTimeoutMs: ctx.config.pull.connectTimeoutMs,
    onAnswerDate: (peer, date, sentMs, receivedMs) =>
      ctx.peerClocks.fromHttpDate(peer, date, sentMs, receivedMs),
  });
}
