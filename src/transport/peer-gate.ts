// Puts the identity core in front of any node:tls server (HTTPS, gRPC, framed TCP): a connection reaches
// the server's own 'secureConnection' listeners (e.g. the HTTP parser) only after the peer passed the
// certificate rules and the authorizer. Refused peers are destroyed before a byte of theirs is read, and
// every refusal, including handshakes OpenSSL aborted, is logged and counted with its reason.
import { EventEmitter } from 'node:events';
import type { Server, TLSSocket } from 'node:tls';
import { type Authorizer, type AuthzContext, allOf, peerCertificateRules } from '../tls/authorize.ts';
import { type Clock, systemClock } from '../tls/clock.ts';
import type { ExpiryMonitor } from '../tls/expiry.ts';
import { describePeer, type PeerIdentity, peerIdentityOf } from '../tls/identity.ts';
import { createLogSampler, type LogSampler } from '../tls/log-sampler.ts';
import { defaultLogger, type Logger } from '../tls/logger.ts';
import { createTlsMetrics, type TlsMetrics } from '../tls/metrics.ts';
import { classifyHandshakeError, PEER_ABORTED, type Rejection, recordRejection } from './rejections.ts';

export interface PeerGateOptions {
  authorize: Authorizer;
  clock?: Clock;
  logger?: Logger;
  expiry?: ExpiryMonitor;
  /** Where refusals are counted; default a private registry. */
  metrics?: TlsMetrics;
}

export interface PeerGateEvents {
  rejected: [rejection: Rejection];
  accepted: [socket: TLSSocket, identity: PeerIdentity];
}

export class PeerGate extends EventEmitter<PeerGateEvents> {
  readonly #live = new Set<TLSSocket>();
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
    // Take over the listeners already attached (the HTTP server's parser) and call them only for admitted peers.
    const downstream = server.listeners('secureConnection') as ((socket: TLSSocket) => void)[];
    server.removeAllListeners('secureConnection');
    server.on('secureConnection', (socket: TLSSocket) => {
      const identity = this.#admit(socket);
      if (!identity) return;
      options.expiry?.observePeer(identity);
      this.#live.add(socket);
      socket.once('close', () => this.#live.delete(socket));
      this.emit('accepted', socket, identity);
      for (const listener of downstream) listener.call(server, socket);
    });
    server.on('tlsClientError', (error: NodeJS.ErrnoException, socket: TLSSocket) => {
      const { reason, detail } = classifyHandshakeError(error, socket);
      if (reason === PEER_ABORTED) {
        this.#logger.debug(
          { event: 'tls_handshake_aborted', detail },
          'peer closed the connection during the handshake',
        );
        return;
      }
      this.#reject({ side: 'server', reason, detail, remoteAddress: socket.remoteAddress });
    });
  }

  /** Open, admitted connections. */
  get connections(): ReadonlySet<TLSSocket> {
    return this.#live;
  }

  /** Re-runs the rules on every open connection (after a revocation) and closes the ones now refused. */
  revalidate(): number {
    let closed = 0;
    for (const socket of [...this.#live]) {
      if (!this.#admit(socket)) closed++;
    }
    return closed;
  }

  #admit(socket: TLSSocket): PeerIdentity | null {
    const identity = peerIdentityOf(socket);
    const base = { side: 'server' as const, remoteAddress: socket.remoteAddress };
    if (!identity) {
      this.#reject({ ...base, reason: 'no_client_certificate', detail: 'peer presented no certificate' });
      socket.destroy();
      return null;
    }
    const context: AuthzContext = { side: 'server', now: this.#clock() };
    const decision = this.#authorize(identity, context);
    if (!decision.allow) {
      this.#reject({
        ...base,
        reason: decision.reason,
        detail: decision.detail,
        peer: describePeer(identity),
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
