// The framed TCP client: dials a framed server with the current credentials (a reload is used by the next
// connection; open ones keep their session) under the TLS 1.3 policy, and checks the server's identity with
// the core's authorizers in checkServerIdentity, i.e. after the handshake and before a single frame byte is
// written. Refusals, ours and OpenSSL's, are counted and logged with the same reasons as the HTTPS and gRPC
// clients, and reported as PeerRejectedError.
import {
  connect,
  createSecureContext,
  type PeerCertificate,
  type SecureContext,
  type TLSSocket,
} from 'node:tls';
import { type Authorizer, allOf, declaredIdentity, peerCertificateRules } from '../../tls/authorize.ts';
import { type Clock, systemClock } from '../../tls/clock.ts';
import type { CredentialSource } from '../../tls/credential-source.ts';
import { PeerRejectedError } from '../../tls/errors.ts';
import type { ExpiryMonitor } from '../../tls/expiry.ts';
import { followCredentials } from '../../tls/follow.ts';
import { type PeerIdentity, peerIdentityFromDer, peerIdentityOf } from '../../tls/identity.ts';
import { createLogSampler } from '../../tls/log-sampler.ts';
import { defaultLogger, type Logger } from '../../tls/logger.ts';
import { createTlsMetrics, type TlsMetrics } from '../../tls/metrics.ts';
import { clientTlsOptions } from '../../tls/policy.ts';
import { LiveConnections } from '../live-connections.ts';
import { serverRefusal } from '../peer-trust.ts';
import { classifyClientHandshakeError, type Rejection, recordRejection } from '../rejections.ts';
import { FramedConnection } from './connection.ts';
import {
  createFramedMetrics,
  DEFAULT_HANDSHAKE_TIMEOUT_MS,
  type FramedMetrics,
  type FrameLimits,
} from './limits.ts';

export interface FramedClientOptions extends FrameLimits {
  credentials: CredentialSource;
  /** Replaces the default `declaredIdentity()` check (the `expectedUri` of each connect); the certificate rules always apply. */
  authorize?: Authorizer;
  /** TCP connect and TLS handshake must finish within this. Default 10 000 ms. */
  handshakeTimeoutMs?: number;
  clock?: Clock;
  logger?: Logger;
  expiry?: ExpiryMonitor;
  /** Where refusals are counted (shared with the other adapters); default a private registry. */
  metrics?: TlsMetrics;
  /** Where limit closures are counted; default a private registry. */
  framedMetrics?: FramedMetrics;
  onRejected?: (rejection: Rejection) => void;
}

export interface FramedDialOptions {
  host: string;
  port: number;
  /** The entity URI the server must prove (its URI SAN), for the default authorizer. */
  expectedUri?: string;
  /** SNI; default `host` when it is a name (an IP literal is not sent, RFC 6066 3). */
  servername?: string;
}

/** Thrown by connect() when the TCP connect or the TLS handshake does not finish in time. */
export class FramedHandshakeTimeoutError extends Error {
  override readonly name = 'FramedHandshakeTimeoutError';
  readonly code = 'FRAMED_HANDSHAKE_TIMEOUT';
}

/** A framed mTLS client: one per set of credentials, any number of connections. */
export interface FramedClient {
  /**
   * Dials, handshakes and checks the server; resolves with the connection. Rejects with PeerRejectedError
   * (its `reason`: `uri_mismatch`, `cert_untrusted`, `cert_expired` …) when the server is refused, with
   * FramedHandshakeTimeoutError at the deadline, or with the socket's error.
   */
  connect(dial: FramedDialOptions): Promise<FramedConnection>;
  /** Stops following the credentials and watching open connections; they stay open. */
  close(): void;
}

export function createFramedClient(options: FramedClientOptions): FramedClient {
  const authorize = allOf(peerCertificateRules, options.authorize ?? declaredIdentity());
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? defaultLogger();
  const metrics = options.metrics ?? createTlsMetrics();
  const framedMetrics = options.framedMetrics ?? createFramedMetrics();
  const sample = createLogSampler();
  const handshakeTimeoutMs = options.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS;

  let context!: SecureContext;
  const stop = followCredentials(
    options.credentials,
    (material) => {
      context = createSecureContext(clientTlsOptions(material));
    },
    { initial: true },
  );

  const reject = (rejection: Rejection): PeerRejectedError => {
    recordRejection(rejection, logger, metrics, sample);
    options.onRejected?.(rejection);
    return new PeerRejectedError(rejection.reason, rejection.detail);
  };

  /** The server judged (serverRefusal); a refusal is recorded and returned as the connection's error. */
  const judge = (
    target: string,
    identity: PeerIdentity,
    expectedUri: string | undefined,
    socket?: TLSSocket,
  ): PeerRejectedError | undefined => {
    const rejection = serverRefusal(identity, {
      authorize,
      origin: target,
      expectedUri,
      now: clock(),
      trust: { side: 'client', credentials: options.credentials, logger, metrics, sample },
      socket,
    });
    return rejection ? reject({ ...rejection, detail: `${target}: ${rejection.detail}` }) : undefined;
  };
  const checkServer = (dial: FramedDialOptions, target: string, cert: PeerCertificate) => {
    const identity = peerIdentityFromDer(cert.raw);
    options.expiry?.observePeer(identity);
    return judge(target, identity, dial.expectedUri);
  };
  // Open connections stay under watch: re-checked on every reload (CRLs, CA bundle) and at notAfter.
  const targets = new WeakMap<TLSSocket, string>();
  const live = new LiveConnections<TLSSocket>({
    check: (socket, identity) => {
      if (!judge(targets.get(socket) ?? 'server', identity, undefined, socket)) return true;
      socket.destroy();
      return false;
    },
    credentials: options.credentials,
    clock,
    timers: options.timers,
  });

  return {
    connect(dial) {
      const target = `${dial.host}:${dial.port}`;
      const servername = dial.servername ?? (/^[\d.]+$|:/.test(dial.host) ? undefined : dial.host);
      return new Promise((resolve, rejectConnect) => {
        const socket = connect({
          host: dial.host,
          port: dial.port,
          secureContext: context,
          rejectUnauthorized: true,
          ...(servername ? { servername } : {}),
          checkServerIdentity: (_name, cert) => checkServer(dial, target, cert),
        });
        const timer = setTimeout(() => {
          socket.destroy();
          rejectConnect(
            new FramedHandshakeTimeoutError(`${target}: no TLS session within ${handshakeTimeoutMs} ms`),
          );
        }, handshakeTimeoutMs);
        const onError = (error: NodeJS.ErrnoException) => {
          clearTimeout(timer);
          if (error instanceof PeerRejectedError) return rejectConnect(error);
          const reason = classifyClientHandshakeError(error);
          if (!reason) return rejectConnect(error);
          rejectConnect(
            reject({
              side: 'client',
              reason,
              detail: `${target}: ${error.code ?? 'handshake failed'} (${error.message.split('\n')[0]})`,
            }),
          );
        };
        socket.once('error', onError);
        socket.once('secureConnect', () => {
          clearTimeout(timer);
          socket.off('error', onError);
          const peer = peerIdentityOf(socket);
          if (!peer) {
            socket.destroy();
            return rejectConnect(new Error(`${target}: the server presented no certificate`));
          }
          targets.set(socket, target);
          live.add(socket, peer);
          resolve(
            new FramedConnection(socket, {
              ...options,
              side: 'client',
              peer,
              logger,
              metrics: framedMetrics,
              sample,
            }),
          );
        });
      });
    },
    close() {
      stop();
      live.close();
    },
  };
}
