// Proxy-terminated mTLS on a fastify server: the client's certificate, forwarded by a trusted proxy, becomes
// `request.peer` after it is verified again (chain to our CA bundle, validity, purpose) and passes the same
// authorizer as a direct connection. From anyone else the forwarded-certificate headers are removed before
// any route sees them and the attempt is counted (`forwarded_cert_untrusted_source`). Behind a trusted proxy
// the connection's own certificate is the proxy's, never the client's: without a forwarded certificate the
// request has no peer. `request.clientIp` is the client's address (see TrustedProxies.clientIp).
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { type Authorizer, type AuthzContext, allOf, peerCertificateRules } from '../../tls/authorize.ts';
import { type Clock, systemClock } from '../../tls/clock.ts';
import { describePeer, type PeerIdentity } from '../../tls/identity.ts';
import { createLogSampler } from '../../tls/log-sampler.ts';
import { defaultLogger, type Logger } from '../../tls/logger.ts';
import { createTlsMetrics, type TlsMetrics } from '../../tls/metrics.ts';
import { type RevocationCheck, verifyPeerCertificate } from '../../tls/verify-peer.ts';
import type { ParsedCertificate } from '../../tls/x509.ts';
import type {} from '../https-server.ts';
import { type Rejection, recordRejection } from '../rejections.ts';
import { ForwardedCertError } from './errors.ts';
import { FORWARDED_CERT_HEADERS, type TrustedProxies } from './trusted-proxies.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** The client's address: the socket's, or the one a trusted proxy forwarded (rightmost untrusted hop). */
    clientIp: string;
    /** The request came through a trusted proxy (its forwarded certificate, if any, is `peer`). */
    viaTrustedProxy: boolean;
  }
}

/** The counted reason when a forwarded-certificate header arrives from a peer that is not a trusted proxy. */
export const UNTRUSTED_SOURCE = 'forwarded_cert_untrusted_source';

export interface ForwardedIdentityOptions {
  proxies: TrustedProxies;
  /** The CA bundle forwarded certificates must chain to (read per request: follows credential reloads). */
  cas: () => readonly ParsedCertificate[];
  /** The listener's authorizer, as for a direct connection (after the core's certificate rules). */
  authorize: Authorizer;
  /**
   * A request from a trusted proxy without a forwarded certificate is refused (403, reason
   * no_client_certificate), as a direct connection without one is at the handshake. Default false: the
   * request goes on with no peer.
   */
  requireCertificate?: boolean;
  /** Revocation of each certificate of the path, inside verifyPeerCertificate. */
  revoked?: RevocationCheck;
  /**
   * A trust check on the verified identity (revocation lists, staleness), after the chain and before the
   * authorizer; null when trusted. The node passes the core's CRL check here (checkPeerTrust).
   */
  trustCheck?: (identity: PeerIdentity, now: Date) => { reason: string; detail: string } | null;
  clock?: Clock;
  logger?: Logger;
  /** Where refusals are counted (the handshake rejection counter, side "server"). */
  metrics?: TlsMetrics;
  /** Every refusal, after it is counted. */
  onRejected?(rejection: Rejection): void;
}

/**
 * Installs the forwarded-identity hook (an onRequest hook: add it after the server's own hooks that set
 * `request.peer`, before authentication). Refusals are thrown as ForwardedCertError (400 malformed header,
 * 403 certificate refused) for the server's error handler.
 */
export function installForwardedIdentity(app: FastifyInstance, options: ForwardedIdentityOptions): void {
  const { proxies } = options;
  const authorize = allOf(peerCertificateRules, options.authorize);
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? defaultLogger();
  const metrics = options.metrics ?? createTlsMetrics();
  const sample = createLogSampler();
  const clientIps = new WeakMap<FastifyRequest, string>();
  app.decorateRequest('viaTrustedProxy', false);
  app.decorateRequest('clientIp', {
    getter(this: FastifyRequest) {
      let ip = clientIps.get(this);
      if (ip === undefined) {
        ip = proxies.clientIp(this.raw.socket, this.headers);
        clientIps.set(this, ip);
      }
      return ip;
    },
  });
  const reject = (request: FastifyRequest, rejection: Omit<Rejection, 'side' | 'remoteAddress'>) => {
    const full: Rejection = { side: 'server', ...rejection, remoteAddress: request.clientIp };
    recordRejection(full, logger, metrics, sample);
    options.onRejected?.(full);
  };

  app.addHook('onRequest', async (request) => {
    const trusted = proxies.enabled && proxies.isTrusted(request.raw.socket);
    if (!trusted) {
      const present = FORWARDED_CERT_HEADERS.filter((name) => request.headers[name] !== undefined);
      if (present.length === 0) return;
      for (const name of present) delete request.headers[name];
      reject(request, {
        reason: UNTRUSTED_SOURCE,
        detail: `${present.join(', ')} from ${request.raw.socket.remoteAddress}, which is not a trusted proxy: removed`,
      });
      return;
    }
    request.viaTrustedProxy = true;
    // The connection's certificate is the proxy's; the client is whoever the proxy says, once verified.
    request.peer = null;
    let forwarded: ReturnType<TrustedProxies['readCertificate']>;
    try {
      forwarded = proxies.readCertificate(request.headers, request.raw.rawHeaders);
    } catch (error) {
      if (!(error instanceof ForwardedCertError)) throw error;
      reject(request, { reason: error.reason, detail: `${error.syntax}: ${error.message}` });
      throw error;
    } finally {
      // Handlers never read the raw headers: the verified identity is `request.peer`.
      for (const name of FORWARDED_CERT_HEADERS) delete request.headers[name];
    }
    if (!forwarded) {
      if (!options.requireCertificate) return;
      reject(request, {
        reason: 'no_client_certificate',
        detail: 'the trusted proxy forwarded no client certificate',
      });
      throw new ForwardedCertError(
        'no_client_certificate',
        'a client certificate is required: the proxy forwarded none',
      );
    }
    const now = clock();
    const verdict = verifyPeerCertificate(forwarded.leaf, forwarded.chain, {
      cas: options.cas(),
      side: 'server',
      now,
      ...(options.revoked ? { revoked: options.revoked } : {}),
    });
    let identity: PeerIdentity;
    if (verdict.ok) identity = verdict.identity;
    else {
      const peer = verdict.identity ? describePeer(verdict.identity) : undefined;
      reject(request, { reason: verdict.reason, detail: verdict.detail, ...(peer ? { peer } : {}) });
      throw new ForwardedCertError(verdict.reason, `forwarded client certificate refused: ${verdict.reason}`);
    }
    const distrust = options.trustCheck?.(identity, now);
    if (distrust) {
      reject(request, { reason: distrust.reason, detail: distrust.detail, peer: describePeer(identity) });
      throw new ForwardedCertError(
        distrust.reason,
        `forwarded client certificate refused: ${distrust.reason}`,
      );
    }
    const context: AuthzContext = { side: 'server', now };
    const decision = authorize(identity, context);
    if (!decision.allow) {
      reject(request, { reason: decision.reason, detail: decision.detail, peer: describePeer(identity) });
      throw new ForwardedCertError(
        decision.reason,
        `forwarded client certificate refused: ${decision.reason}`,
      );
    }
    request.peer = identity;
  });
}
