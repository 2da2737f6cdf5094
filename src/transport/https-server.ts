// The HTTPS adapter: a fastify instance whose TLS listener enforces the policy, admits peers through the
// PeerGate before any HTTP byte is parsed, exposes `request.peer`, and follows credential reloads.
import type { Server as HttpsServer, ServerOptions as HttpsServerOptions } from 'node:https';
import type { TLSSocket, TlsOptions } from 'node:tls';
import Fastify, { type FastifyHttpsOptions, type FastifyInstance, type FastifyServerOptions } from 'fastify';
import type { Authorizer } from '../tls/authorize.ts';
import type { Clock, Timers } from '../tls/clock.ts';
import type { CredentialSource } from '../tls/credential-source.ts';
import type { ExpiryMonitor } from '../tls/expiry.ts';
import { followCredentials } from '../tls/follow.ts';
import { type PeerIdentity, peerIdentityOf } from '../tls/identity.ts';
import type { Logger } from '../tls/logger.ts';
import type { TlsMetrics } from '../tls/metrics.ts';
import { serverTlsOptions } from '../tls/policy.ts';
import { PeerGate } from './peer-gate.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** The authenticated peer of this request's connection (always set on an mTLS server). */
    peer: PeerIdentity | null;
  }
}

export interface MtlsServerOptions {
  credentials: CredentialSource;
  authorize: Authorizer;
  clock?: Clock;
  logger?: Logger;
  expiry?: ExpiryMonitor;
  /** Timers for the per-connection deadlines (peer notAfter, CRL nextUpdate); default Node's. */
  timers?: Timers;
  /** Where handshake refusals are counted; default a private registry. */
  metrics?: TlsMetrics;
  /** Passed to fastify (logger, bodyLimit, …); `https` is owned by this adapter. */
  fastify?: Omit<FastifyServerOptions, 'https' | 'http2'>;
  /**
   * Server options that bound slow or idle clients (handshakeTimeout, headersTimeout, requestTimeout,
   * connectionsCheckingInterval …); the TLS ones are this adapter's and cannot be replaced here.
   */
  server?: Omit<HttpsServerOptions, keyof TlsOptions>;
}

export type MtlsServer = FastifyInstance<HttpsServer> & { peerGate: PeerGate };

export function createMtlsServer(options: MtlsServerOptions): MtlsServer {
  const { credentials } = options;
  const fastifyOptions = {
    ...options.fastify,
    https: { ...options.server, ...serverTlsOptions(credentials.material) },
  } as unknown as FastifyHttpsOptions<HttpsServer>;
  const app = Fastify(fastifyOptions);
  const peerGate = new PeerGate(app.server, options);
  app.decorateRequest('peer', null);
  app.addHook('onRequest', async (request) => {
    request.peer = peerIdentityOf(request.raw.socket as TLSSocket);
  });
  // New handshakes use the new material; established connections keep their session.
  const stop = followCredentials(credentials, (material) =>
    app.server.setSecureContext(serverTlsOptions(material)),
  );
  app.addHook('onClose', async () => {
    stop();
    peerGate.close();
  });
  return Object.assign(app, { peerGate });
}
