// Either listener behind a proxy that terminates mTLS (TESSERA_TRUSTED_PROXIES): the library's forwarded-
// identity hook with the node's CA bundle, metrics and audit. Installed on every listener, proxies or not,
// so forwarded-certificate headers from anyone who is not a trusted proxy are always removed and counted,
// and `request.clientIp` (auth-failure limits, logs) is always the right address.
import type { FastifyInstance } from 'fastify';
import type { Authorizer } from '../../tls/authorize.ts';
import { createLogSampler } from '../../tls/log-sampler.ts';
import { peerTrustRefusal } from '../../transport/peer-trust.ts';
import { installForwardedIdentity } from '../../transport/proxy/forwarded-identity.ts';
import { TrustedProxies } from '../../transport/proxy/trusted-proxies.ts';
import type { NodeContext } from './context.ts';

/**
 * `requireCertificate`: the listener asks every client for a certificate (federation, the mTLS API), so a
 * trusted proxy's request without a forwarded one is refused (no_client_certificate), as at a handshake.
 */
export function installTrustedProxy(
  app: FastifyInstance,
  ctx: NodeContext,
  authorize: Authorizer,
  requireCertificate: boolean,
): void {
  const settings = ctx.config.trustedProxies;
  const { credentials } = ctx;
  const staleSampler = createLogSampler();
  const proxies = new TrustedProxies({
    // Without a CA bundle nothing forwarded could be verified: config.ts refuses proxies then.
    proxies: credentials ? settings.proxies : [],
    identities: settings.identities,
    header: settings.header,
  });
  installForwardedIdentity(app, {
    proxies,
    cas: () => credentials?.material.cas ?? [],
    authorize,
    requireCertificate,
    // Forwarded certificates are held to the node's CRLs too (cert_revoked, crl_stale), as direct peers are.
    // Through the adapters' own wrapper, so a stale CRL accepted under `warn` is counted and logged too.
    trustCheck: (identity, now) =>
      peerTrustRefusal(identity, now, {
        side: 'server',
        credentials: credentials ?? undefined,
        logger: ctx.logger,
        metrics: ctx.tlsMetrics,
        sample: staleSampler,
      }),
    clock: ctx.clock,
    logger: ctx.logger,
    metrics: ctx.tlsMetrics,
    onRejected(rejection) {
      if (ctx.sample(`forwarded_cert_rejected:${rejection.reason}`))
        void ctx.audit.note('tls_peer_rejected', rejection.peer ?? null, {
          reason: rejection.reason,
          detail: rejection.detail,
          remote_address: rejection.remoteAddress ?? null,
          forwarded: true,
        });
    },
  });
}
