// The trust check of the core (src/tls/revocation.ts) as adapters run it: against the current material,
// with the stale-CRL warning logged (sampled) and counted when the policy is `warn`, and the chain the peer
// presented read off its socket when trust is re-evaluated on an open connection.
import type { TLSSocket } from 'node:tls';
import { type Authorizer, peerCertificateRules } from '../tls/authorize.ts';
import type { CredentialFeed } from '../tls/follow.ts';
import { describePeer, type PeerIdentity } from '../tls/identity.ts';
import type { LogSampler } from '../tls/log-sampler.ts';
import type { Logger } from '../tls/logger.ts';
import type { TlsMetrics } from '../tls/metrics.ts';
import { checkPeerTrust, type TrustRefusal } from '../tls/revocation.ts';
import type { Rejection } from './rejections.ts';

export interface PeerTrustContext {
  side: 'server' | 'client';
  credentials: CredentialFeed | undefined;
  logger: Logger;
  metrics: TlsMetrics;
  sample: LogSampler;
}

/** null: trusted. `socket` given (re-evaluation): the chain it presented is re-checked against the bundle. */
export function peerTrustRefusal(
  identity: PeerIdentity,
  now: Date,
  context: PeerTrustContext,
  socket?: TLSSocket,
): TrustRefusal | null {
  const material = context.credentials?.material;
  if (!material) return null;
  // At the handshake with no CRL loaded (most nodes) there is nothing to check: OpenSSL verified the chain.
  if (!socket && material.crls.length === 0) return null;
  // The chain as remembered when the connection was admitted (rememberPresentedChain); a socket closing
  // by itself is not judged again (it is going anyway, and has no certificate left to read).
  const presented = socket ? (remembered.get(socket) ?? presentedChain(socket)) : [];
  if (socket && presented.length === 0 && (socket.destroyed || socket.readyState !== 'open')) return null;
  return checkPeerTrust(identity, material, now, {
    ...(socket ? { presented } : {}),
    onStaleAccepted: (crl) => {
      context.metrics.crlStaleAccepted.inc({ side: context.side });
      const decision = context.sample(`${context.side}:crl_stale_accepted`);
      if (decision.log)
        context.logger.warn(
          {
            event: 'tls_crl_stale_accepted',
            side: context.side,
            issuer: crl.issuer,
            file: crl.file,
            nextUpdate: crl.nextUpdate?.toISOString(),
            ...(decision.suppressed ? { suppressed: decision.suppressed } : {}),
          },
          `peer accepted although the CRL of ${crl.issuer} is past nextUpdate (TESSERA_TLS_CRL_STALE=warn)`,
        );
    },
  });
}

/** Chains read when each connection was admitted: later reads can come back empty (see identity.ts). */
const remembered = new WeakMap<TLSSocket, Uint8Array[]>();

/**
 * Reads and keeps the chain the peer presented on this connection, for every later re-check: called when a
 * connection is admitted (LiveConnections.add), before anything else can empty the socket's certificate.
 */
export function rememberPresentedChain(socket: TLSSocket): void {
  if (remembered.has(socket)) return;
  const chain = presentedChain(socket);
  if (chain.length > 0) remembered.set(socket, chain);
}

/** The certificates the peer sent on this connection, leaf first (DER). */
export function presentedChain(socket: TLSSocket): Uint8Array[] {
  const chain: Uint8Array[] = [];
  let cert = socket.getPeerCertificate(true);
  const seen = new Set<string>();
  while (cert?.raw && !seen.has(cert.fingerprint256) && chain.length < 10) {
    seen.add(cert.fingerprint256);
    chain.push(cert.raw);
    cert = cert.issuerCertificate;
  }
  return chain;
}

export interface ServerJudgement {
  authorize: Authorizer;
  /** Where we dialled (`https://host:port`, `host:port`): the authorizers' origin. */
  origin: string;
  expectedUri?: string | undefined;
  now: Date;
  trust: PeerTrustContext;
  /** Given: an open connection judged again (see serverRefusal). */
  socket?: TLSSocket | undefined;
}

/**
 * A client's verdict on a server, shared by every client adapter: the certificate rules and authorizer,
 * then CRLs. On an open connection (`socket` given: trust changed or a deadline came) the identity the
 * authorizer accepted has not changed, so only the certificate rules, the CRLs and the chain to the current
 * bundle run again. Null when trusted; otherwise the rejection to record.
 */
export function serverRefusal(identity: PeerIdentity, judgement: ServerJudgement): Rejection | null {
  const { now, socket, expectedUri } = judgement;
  const decision = (socket ? peerCertificateRules : judgement.authorize)(identity, {
    side: 'client',
    origin: judgement.origin,
    now,
    ...(expectedUri ? { expectedUri } : {}),
  });
  const refusal = decision.allow ? peerTrustRefusal(identity, now, judgement.trust, socket) : decision;
  if (!refusal) return null;
  return {
    side: 'client',
    reason: refusal.reason,
    detail: refusal.detail,
    peer: describePeer(identity),
    ...('serial' in refusal && refusal.serial ? { serial: refusal.serial } : {}),
  };
}
