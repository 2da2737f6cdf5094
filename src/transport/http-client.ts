// The HTTP client adapter: an undici Agent whose every new connection presents the current credentials
// (so rotated ones are used as soon as they are loaded) and checks the server's identity in
// checkServerIdentity, i.e. after the handshake and before a single request byte is written.
// Connections are kept alive and pooled: undici does not resume TLS sessions, so reuse is what saves handshakes.
// Pooled connections stay under watch (live-connections.ts): a reload that revokes the server's certificate
// (CRL) or drops its CA, or its notAfter, closes them, so no request rides a connection no longer trusted.
import { createSecureContext, type SecureContext, type TLSSocket } from 'node:tls';
import { Agent, buildConnector } from 'undici';
import { type Authorizer, allOf, declaredIdentity, peerCertificateRules } from '../tls/authorize.ts';
import { type Clock, systemClock, type Timers } from '../tls/clock.ts';
import type { CredentialSource } from '../tls/credential-source.ts';
import { PeerRejectedError } from '../tls/errors.ts';
import type { ExpiryMonitor } from '../tls/expiry.ts';
import { followCredentials } from '../tls/follow.ts';
import { type PeerIdentity, peerIdentityFromDer } from '../tls/identity.ts';
import { createLogSampler } from '../tls/log-sampler.ts';
import { defaultLogger, type Logger } from '../tls/logger.ts';
import { createTlsMetrics, type TlsMetrics } from '../tls/metrics.ts';
import { clientTlsOptions } from '../tls/policy.ts';
import { LiveConnections } from './live-connections.ts';
import { serverRefusal } from './peer-trust.ts';
import { isVerifyError, type Rejection, reasonForVerifyError, recordRejection } from './rejections.ts';

export interface MtlsAgentOptions {
  credentials: CredentialSource;
  /**
   * The entity URI each origin (e.g. "https://127.0.0.1:8765") must prove, as a map or a lookup.
   * Used by the default authorizer, which requires the server's URI SAN to equal it.
   */
  expectedIdentity?: Record<string, string> | ((origin: string) => string | undefined);
  /** Replaces the default `declaredIdentity()` check; the certificate rules always apply. */
  authorize?: Authorizer;
  clock?: Clock;
  /** Timers for the pooled connections' deadlines (server notAfter, CRL nextUpdate); default Node's. */
  timers?: Timers;
  logger?: Logger;
  expiry?: ExpiryMonitor;
  onRejected?: (rejection: Rejection) => void;
  /** Where refusals are counted; default a private registry. */
  metrics?: TlsMetrics;
  /** Pool tuning passed to undici (keep-alive timeouts, connections per origin, …). */
  agent?: Omit<Agent.Options, 'connect'>;
  connectTimeoutMs?: number;
}

export function createMtlsAgent(options: MtlsAgentOptions): Agent {
  const { credentials } = options;
  const authorize = allOf(peerCertificateRules, options.authorize ?? declaredIdentity());
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? defaultLogger();
  const metrics = options.metrics ?? createTlsMetrics();
  const sample = createLogSampler();
  const lookup = options.expectedIdentity;
  const expectedFor = (origin: string) => (typeof lookup === 'function' ? lookup(origin) : lookup?.[origin]);

  let context!: SecureContext;
  const stop = followCredentials(
    credentials,
    (material) => {
      context = createSecureContext(clientTlsOptions(material));
    },
    { initial: true },
  );

  /** The server judged (serverRefusal); a refusal is recorded and returned as the connection's error. */
  const judge = (
    origin: string,
    identity: PeerIdentity,
    socket?: TLSSocket,
  ): PeerRejectedError | undefined => {
    const rejection = serverRefusal(identity, {
      authorize,
      origin,
      expectedUri: expectedFor(origin),
      now: clock(),
      trust: { side: 'client', credentials, logger, metrics, sample },
      socket,
    });
    if (!rejection) return undefined;
    recordRejection(rejection, logger, metrics, sample);
    options.onRejected?.(rejection);
    return new PeerRejectedError(rejection.reason, `${origin}: ${rejection.detail}`);
  };

  const origins = new WeakMap<TLSSocket, { origin: string; identity: PeerIdentity }>();

  const pooled = new LiveConnections<TLSSocket>({
    check: (socket) => {
      const entry = origins.get(socket);
      if (!entry || !judge(entry.origin, entry.identity, socket)) return true;
      socket.destroy();
      return false;
    },
    credentials,
    clock,
    timers: options.timers,
  });
  // OpenSSL refused the server's chain (untrusted, expired, wrong purpose…) before our check ran: the same
  // refusal as ours, counted with its reason, so a client sees one kind of error whatever refused the server.
  const verifyRefusal = (error: Error, origin: string): PeerRejectedError | undefined => {
    const code = (error as NodeJS.ErrnoException).code;
    if (!code || !isVerifyError(code)) return undefined;
    const rejection: Rejection = {
      side: 'client',
      reason: reasonForVerifyError(code),
      detail: code,
      peer: origin,
    };
    recordRejection(rejection, logger, metrics, sample);
    options.onRejected?.(rejection);
    return new PeerRejectedError(rejection.reason, `${origin}: ${error.message} (${code})`);
  };

  const agent = new Agent({
    keepAliveTimeout: 30_000,
    ...options.agent,
    connect: (connectOptions, callback) => {
      // An mTLS agent never speaks plaintext: an http:// origin would carry tokens and data in the clear.
      if (connectOptions.protocol !== 'https:') {
        callback(
          new PeerRejectedError(
            'not_tls',
            `refusing ${connectOptions.protocol}// origin: this agent speaks mTLS only`,
          ),
          null,
        );
        return;
      }
      const origin = originOf(connectOptions.protocol, connectOptions.hostname, connectOptions.port);
      // A connector per connection: the identity check needs the origin, which checkServerIdentity is not given.
      let identity: PeerIdentity | undefined;
      const connect = buildConnector({
        secureContext: context,
        timeout: options.connectTimeoutMs ?? 10_000,
        checkServerIdentity: (_host, cert) => {
          identity = peerIdentityFromDer(cert.raw);
          options.expiry?.observePeer(identity);
          return judge(origin, identity);
        },
        keepAlive: true,
      });
      connect(connectOptions, (error, socket) => {
        if (error) return callback(verifyRefusal(error, origin) ?? error, null);
        const tlsSocket = socket as unknown as TLSSocket;
        if (identity) {
          origins.set(tlsSocket, { origin, identity });
          pooled.add(tlsSocket, identity);
        }
        callback(null, socket as NonNullable<typeof socket>);
      });
    },
  });
  // Closing the agent also stops following the credentials, so short-lived agents do not pile up listeners.
  // undici's callback forms call back into these, so every argument is passed through unchanged.
  const close = agent.close.bind(agent) as (...args: unknown[]) => unknown;
  const destroy = agent.destroy.bind(agent) as (...args: unknown[]) => unknown;
  agent.close = ((...args: unknown[]) => {
    stop();
    pooled.close();
    return close(...args);
  }) as Agent['close'];
  agent.destroy = ((...args: unknown[]) => {
    stop();
    pooled.close();
    return destroy(...args);
  }) as Agent['destroy'];
  return agent;
}

/** The canonical origin form (`new URL(url).origin`) used as the key of `expectedIdentity`. */
export function originOf(protocol: string, hostname: string, port: string | number): string {
  const scheme = protocol.replace(/:$/, '');
  return new URL(`${scheme}://${hostname}${port ? `:${port}` : ''}`).origin;
}
