// The gRPC federation listener (TESSERA_FEDERATION_GRPC_PORT, off by default): Tessera's mTLS gRPC server
// (the transport's own TLS listener and peer gate) serving the federation service. The same admission as
// the HTTPS federation listener: at the handshake a chain to our CA bundle, a URI SAN, not revoked; per
// call a peer token bound to that certificate and signed by an approved peer. A revoked peer's open
// connections (and streams) are closed at once. The bound endpoint is published in the signed manifest.
import { allOf, denyList } from '../../tls/authorize.ts';
import { createMtlsGrpcServer } from '../../transport/grpc/server.ts';
import type { GrpcFederationService } from '../features/federation/grpc/grpc-federation-service.ts';
import { MAX_FEED_MESSAGE_BYTES } from '../features/federation/grpc/grpc-peer-transport.ts';
import { federationServiceDefinition } from '../features/federation/grpc/proto.ts';
import type { GrpcFederationSettings } from '../settings/config.ts';
import type { NodeContext } from './context.ts';
import { requireUriSan } from './federation-admission.ts';
import type { Listener } from './lifecycle.ts';

/** Concurrent calls (streams) one connection may hold open. */
const MAX_STREAMS_PER_CONNECTION = 16;

/** What a peer may send us in one message: a cursor and a limit. */
const MAX_REQUEST_BYTES = 64 * 1024;

export function createGrpcFederationListener(
  ctx: NodeContext,
  settings: GrpcFederationSettings,
  service: GrpcFederationService,
): Listener {
  const { credentials, logger, clock, peers } = ctx;
  if (!credentials) throw new Error('the gRPC federation listener needs TLS credentials');
  const server = createMtlsGrpcServer({
    credentials,
    authorize: allOf(
      denyList(() => peers.revoked()),
      requireUriSan,
    ),
    logger,
    clock,
    ...(ctx.expiry ? { expiry: ctx.expiry } : {}),
    metrics: ctx.tlsMetrics,
    handshakeTimeoutMs: ctx.config.connections.handshakeTimeoutMs,
    grpc: {
      'grpc.max_receive_message_length': MAX_REQUEST_BYTES,
      'grpc.max_send_message_length': MAX_FEED_MESSAGE_BYTES,
      // Dead subscribers are found by pings too (the stall timer covers the live-but-not-reading ones).
      'grpc.keepalive_time_ms': 30_000,
      'grpc.keepalive_timeout_ms': 10_000,
      'grpc.keepalive_permit_without_calls': 1,
      // A peer needs one stream and a few unary calls at a time; more per connection is refused by HTTP/2.
      'grpc.max_concurrent_streams': MAX_STREAMS_PER_CONNECTION,
    },
  });
  server.grpc.addService(federationServiceDefinition(), service.handlers);
  server.peerGate.on('rejected', (rejection) => {
    if (ctx.sample(`tls_peer_rejected:${rejection.reason}`))
      void ctx.audit.note('tls_peer_rejected', rejection.peer ?? null, {
        reason: rejection.reason,
        detail: rejection.detail,
        remote_address: rejection.remoteAddress ?? null,
        listener: 'grpc',
      });
  });
  service.setConnectionCutter((remote) => {
    for (const socket of server.peerGate.connections)
      if (
        remote === `${socket.remoteAddress}:${socket.remotePort}` ||
        remote === `[${socket.remoteAddress}]:${socket.remotePort}`
      )
        socket.destroy();
  });
  const onRevoked = () => server.peerGate.revalidate();
  let closed: Promise<void> | undefined;
  return {
    name: 'grpc',
    async listen() {
      const port = await server.listen(settings.port, settings.host);
      ctx.grpcEndpoint = settings.advertise ?? advertisedEndpoint(settings.host, ctx.nodeUrl, port);
      ctx.events.on('peer_revoked', onRevoked);
      logger.info(
        { event: 'grpc_federation_listening', endpoint: ctx.grpcEndpoint, port },
        'gRPC federation listening',
      );
    },
    close() {
      closed ??= (async () => {
        ctx.events.off('peer_revoked', onRevoked);
        service.close();
        await server.close(1000);
      })();
      return closed;
    },
  };
}

/** The bind host (or, for a wildcard bind, the host of the advertised federation URL) and the bound port. */
function advertisedEndpoint(bindHost: string, nodeUrl: string, port: number): string {
  const wildcard = bindHost === '0.0.0.0' || bindHost === '::' || bindHost === '';
  const host = wildcard ? new URL(nodeUrl).hostname : bindHost.includes(':') ? `[${bindHost}]` : bindHost;
  return `${host}:${port}`;
}
