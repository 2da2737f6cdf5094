// Puts the identity core in front of any node:tls server (HTTPS, gRPC, framed TCP): a connection reaches
// the server's own 'secureConnection' listeners (e.g. the HTTP parser) only after the peer passed the
// certificate rules and the authorizer. Refused peers are destroyed before a byte of theirs is read, and
// every refusal, including handshakes OpenSSL aborted, is logged and counted with its reason. Given the
// credentials, peers are also checked against their CRLs (revocation.ts), and admitted connections stay
// under watch (live-connections.ts): re-checked on every reload and closed at notAfter / CRL nextUpdate.
import { EventEmitter } from 'node:events';
import type { Server, TLSSocket } from 'node:tls';
import { type Authorizer, type AuthzContext, allOf, peerCertificateRules } from '../tls/authorize.ts';
import { type Clock, systemClock, type Timers } from '../tls/clock.ts';
import type { ExpiryMonitor } from '../tls/expiry.ts';
import type { CredentialFeed } from '../tls/follow.ts';
import { describePeer, type PeerIdentity, peerIdentityOf } from '../tls/identity.ts';
import { createLogSampler, type LogSampler } from '../tls/log-sampler.ts';
import { defaultLogger, type Logger } from '../tls/logger.ts';
import { createTlsMetrics, type TlsMetrics } from '../tls/metrics.ts';
import { LiveConnections } from './live-connections.ts';
import { peerTrustRefusal } from './peer-trust.ts';
import { classifyHandshakeError, PEER_ABORTED, type Rejection, recordRejection } from './rejections.ts';

export interface PeerGateOptions {
  authorize: Authorizer;
  clock?: Clock;
  logger?: Logger;
  expiry?: ExpiryMonitor;
  /** Where refusals are counted; default a private registry. */
  metrics?: TlsMetrics;
  /**
   * The server's credentials: peers are checked against their CRLs, and every reload re-checks the open
   * connections (CRL, chain to the new bundle, notAfter), closing the ones no longer trusted.
   */
  credentials?: CredentialFeed;
  /** Timers for the per-connection deadlines (notAfter, CRL nextUpdate); default Node's. */
  timers?: Timers;
}

export interface PeerGateEvents {
  rejected: [rejection: Rejection];
  accepted: [socket: TLSSocket, identity: PeerIdentity];
}

export class PeerGate extends EventEmitter<PeerGateEvents> {
  readonly #live: LiveConnections<TLSSocket>;
  readonly #credentials: CredentialFeed | undefined;
  readonly #authorize: Authorizer;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #metrics: TlsMetrics;
  readonly #sample: LogSampler = createLogSampler();

  constructor(server: Server, options: PeerGateOptions) {
    super();
    this.#authorize = allOf(peerCertificateRules, options.authorize);
    this.#clock = options.clock ?? systemClock;
    this.#logger = options.logger ?? defaultLogger();
    this.#metrics = options.metrics ?? createTlsMetrics();
    this.#credentials = options.credentials;
    this.#live = new LiveConnections<TLSSocket>({
      check: (socket) => this.#admit(socket, true) !== null,
      credentials: options.credentials,
      clock: this.#clock,
      timers: options.timers,
      readChainOnAdd: false,
    });
    // Take over the listeners already attached (the HTTP server's parser) and call them only for admitted peers.
    const downstream = server.listeners('secureConnection') as ((socket: TLSSocket) => void)[];
    server.removeAllListeners('secureConnection');
    server.on('secureConnection', (socket: TLSSocket) => {
      const identity = this.#admit(socket);
      if (!identity) return;
      options.expiry?.observePeer(identity);
      this.#live.add(socket, identity);
      this.emit('accepted', socket, identity);
      for (const listener of downstream) listener.call(server, socket);
    });
    server.on('tlsClientError', (error: NodeJS.ErrnoException, socket: TLSSocket) => {
      const { reason, detail } = classifyHandshakeError(error, socket);
      const remoteAddress = socket.remoteAddress;
      // Node leaves a socket whose handshake timed out open: it would hold a connection slot forever.
      socket.destroy();
      if (reason === PEER_ABORTED) {
        this.#logger.debug(
          { event: 'tls_handshake_aborted', detail },
          'peer closed the connection during the handshake',
        );
        return;
      }
      this.#reject({ side: 'server', reason, detail, remoteAddress });
    });
  }

  /** Open, admitted connections. */
  get connections(): ReadonlySet<TLSSocket> {
    return new Set(this.#live.sockets());
  }

  /**
   * Re-runs the rules on every open connection and closes the ones now refused (counted by reason). Runs
   * by itself after each credential reload; call it after changing what the authorizer reads (a deny-list).
   */
  revalidate(): number {
    return this.#live.reevaluate();
  }

  /** Stops following the credentials and clears the connection deadlines (the server closes the sockets). */
  close(): void {
    this.#live.close();
  }

  /** `recheck`: an open connection judged again, whose presented chain must still reach the current bundle. */
  #admit(socket: TLSSocket, recheck = false): PeerIdentity | null {
    const identity = peerIdentityOf(socket);
    // Read only for a refusal: socket.remoteAddress is a getpeername() call on every admitted connection.
    const base = () => ({ side: 'server' as const, remoteAddress: socket.remoteAddress });
    if (!identity) {
      this.#reject({ ...base(), reason: 'no_client_certificate', detail: 'peer presented no certificate' });
      socket.destroy();
      return null;
    }
    const context: AuthzContext = { side: 'server', now: this.#clock() };
    const decision = this.#authorize(identity, context);
    if (!decision.allow) {
      this.#reject({
        ...base(),
        reason: decision.reason,
        detail: decision.detail,
        peer: describePeer(identity),
      });
      socket.destroy();
      return null;
    }
    const trust = peerTrustRefusal(
      identity,
      context.now,
      {
        side: 'server',
        credentials: this.#credentials,
        logger: this.#logger,
        metrics: this.#metrics,
        sample: this.#sample,
      },
      recheck ? socket : undefined,
    );
    if (trust) {
      this.#reject({
        ...base(),
        reason: trust.reason,
        detail: trust.detail,
        peer: describePeer(identity),
        ...(trust.serial ? { serial: trust.serial } : {}),
      });
      socket.destroy();
      return null;
    }
    return identity;
  }

  #reject(rejection: Rejection): void {
    recordRejection(rejection, this.#logger, this.#metrics, this.#sample);
    this.emit('rejected', rejection);
  }
}
