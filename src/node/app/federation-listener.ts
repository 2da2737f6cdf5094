// The federation listener: mutual TLS (or the dev-only insecure mode), serving only /.well-known/* and
// /v1/federation/*. At the handshake a peer needs a chain to our CA bundle and a URI SAN, and must not be
// revoked; which peer may do what is decided per request (peer token + approval, features/federation).
// A revoked peer's open connections are closed at once.
import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyInstance } from 'fastify';
import { allOf, denyList } from '../../tls/authorize.ts';
import { createMtlsServer, type MtlsServer } from '../../transport/https-server.ts';
import type { PeerGate } from '../../transport/peer-gate.ts';
import { installErrorHandler } from '../http/error-handler.ts';
import { installStrictJson } from '../http/strict-json-body.ts';
import type { NodeContext } from './context.ts';
import { type Feature, mountFeatures } from './feature.ts';
import { requireUriSan } from './federation-admission.ts';
import { capConnections, listenerOptions, serverBounds } from './http-options.ts';
import type { Listener } from './lifecycle.ts';
import { installTrustedProxy } from './trusted-proxy.ts';

export interface FederationListener extends Listener {
  readonly app: FastifyInstance;
}

export async function createFederationListener(
  ctx: NodeContext,
  features: readonly Feature[],
): Promise<FederationListener> {
  const { config, credentials, logger, clock, peers } = ctx;
  const bounds = config.connections;
  const options = listenerOptions(logger, 'federation', bounds);
  let app: FastifyInstance;
  let gate: PeerGate | null = null;
  // A direct peer at the handshake, and a peer's certificate forwarded by a trusted proxy, alike.
  const admission = allOf(
    denyList(() => peers.revoked()),
    requireUriSan,
  );
  if (credentials) {
    const server: MtlsServer = createMtlsServer({
      credentials,
      authorize: admission,
      logger,
      clock,
      ...(ctx.expiry ? { expiry: ctx.expiry } : {}),
      metrics: ctx.tlsMetrics,
      fastify: options,
      server: serverBounds(bounds),
    });
    gate = server.peerGate;
    app = server as unknown as FastifyInstance;
  } else {
    app = Fastify(options);
    app.decorateRequest('peer', null);
  }
  gate?.on('rejected', (rejection) => {
    if (ctx.sample(`tls_peer_rejected:${rejection.reason}`))
      void ctx.audit.note('tls_peer_rejected', rejection.peer ?? null, {
        reason: rejection.reason,
        detail: rejection.detail,
        remote_address: rejection.remoteAddress ?? null,
      });
  });
  const onRevoked = (peer: { entityUri: string }) => {
    const closed = gate?.revalidate() ?? 0;
    logger.warn({ event: 'peer_revoked', peer: peer.entityUri, closedConnections: closed }, 'peer revoked');
  };
  ctx.events.on('peer_revoked', onRevoked);
  app.addHook('onClose', async () => {
    ctx.events.off('peer_revoked', onRevoked);
  });
  installTrustedProxy(app, ctx, admission, true);
  capConnections(app, bounds);
  installErrorHandler(app);
  installStrictJson(app);
  await mountFeatures(app, features, 'federation');
  return {
    name: 'federation',
    app,
    async listen() {
      await app.listen({ host: config.federationHost, port: config.federationPort });
      const { port } = app.server.address() as AddressInfo;
      if (config.nodeUrlFromBind) ctx.nodeUrl = new URL(ctx.nodeUrl).origin.replace(/:\d+$/, `:${port}`);
    },
    close: () => app.close(),
  };
}
