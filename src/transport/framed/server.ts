// The framed TCP server (sbproxy's mesh wire): a node:tls listener with the TLS 1.3 policy, an admission
// cap enforced at accept (before any handshake), a handshake deadline, and the PeerGate in front, so a
// peer reaches the application only after the certificate rules and the authorizer, and before a byte of
// its frames is read. Reloads swap the listener's secure context: new handshakes use the new material,
// open connections keep their session. Handshakes run concurrently in Node's event loop, so a stalled or
// failed one never holds up the next accept.
import { EventEmitter } from 'node:events';
import type { AddressInfo, Socket } from 'node:net';
import { createServer as createTlsServer, type TLSSocket, type Server as TlsServer } from 'node:tls';
import type { Authorizer } from '../../tls/authorize.ts';
import type { Clock } from '../../tls/clock.ts';
import type { CredentialSource } from '../../tls/credential-source.ts';
import type { ExpiryMonitor } from '../../tls/expiry.ts';
import { followCredentials } from '../../tls/follow.ts';
import { type PeerIdentity, peerIdentityOf } from '../../tls/identity.ts';
import { createLogSampler } from '../../tls/log-sampler.ts';
import { defaultLogger, type Logger } from '../../tls/logger.ts';
import { createTlsMetrics, type TlsMetrics } from '../../tls/metrics.ts';
import { serverTlsOptions } from '../../tls/policy.ts';
import { PeerGate } from '../peer-gate.ts';
import { FramedConnection } from './connection.ts';
import {
  createFramedMetrics,
  DEFAULT_HANDSHAKE_TIMEOUT_MS,
  DEFAULT_MAX_CONNECTIONS,
  type FramedLimitEvent,
  type FramedMetrics,
  type FrameLimits,
  recordLimit,
} from './limits.ts';

export interface FramedServerOptions extends FrameLimits {
  credentials: CredentialSource;
  /** Who may connect: runs right after the handshake, before any frame is read (certificate rules always apply). */
  authorize: Authorizer;
  /** Connections held at once, handshaking ones included; over it a new socket is destroyed at accept. Default 1024. */
  maxConnections?: number;
  /** A connection that has not finished its TLS handshake in this time is closed (`handshake_failed`). Default 10 000 ms. */
  handshakeTimeoutMs?: number;
  clock?: Clock;
  logger?: Logger;
  expiry?: ExpiryMonitor;
  /** Where handshake refusals are counted (shared with the other adapters); default a private registry. */
  metrics?: TlsMetrics;
  /** Where limit closures are counted; default a private registry. */
  framedMetrics?: FramedMetrics;
}

export interface FramedServerEvents {
  /** An admitted peer's connection: attach a 'frame' listener or iterate it. */
  connection: [peer: PeerIdentity, connection: FramedConnection];
  /** A connection closed by a limit, `admission_cap` included (already counted and logged). */
  limit: [event: FramedLimitEvent];
}

/** A framed mTLS server. Handshake refusals are on `peerGate` ('rejected'); limits on 'limit'. */
export class FramedServer extends EventEmitter<FramedServerEvents> {
  /** The connection gate: 'rejected' / 'accepted' events, `revalidate()` (closes connections now refused). */
  readonly peerGate: PeerGate;
  readonly #tls: TlsServer;
  readonly #open = new Set<FramedConnection>();
  readonly #sockets = new Set<Socket>();
  readonly #stop: () => void;
  #port = 0;
  #closing: Promise<void> | null = null;

  /** @internal Use createFramedServer. */
  constructor(options: FramedServerOptions) {
    super();
    const logger = options.logger ?? defaultLogger();
    const metrics = options.metrics ?? createTlsMetrics();
    const framedMetrics = options.framedMetrics ?? createFramedMetrics();
    const sample = createLogSampler();
    this.#tls = createTlsServer({
      ...serverTlsOptions(options.credentials.material),
      handshakeTimeout: options.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS,
    });
    // net.Server's own cap: over it the accepted handle is closed before TLS sees it, and 'drop' fires.
    this.#tls.maxConnections = options.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
    this.#tls.on('drop', (data) => {
      const event: FramedLimitEvent = {
        side: 'server',
        reason: 'admission_cap',
        detail: `${this.#tls.maxConnections} connections already open`,
        remoteAddress: data?.remoteAddress,
      };
      recordLimit(event, logger, framedMetrics, sample);
      this.emit('limit', event);
    });
    this.#tls.on('connection', (socket: Socket) => {
      this.#sockets.add(socket);
      socket.once('close', () => this.#sockets.delete(socket));
    });
    // Registered before the gate, which takes it over and calls it only for admitted peers.
    this.#tls.on('secureConnection', (socket: TLSSocket) => {
      const peer = peerIdentityOf(socket);
      if (!peer || this.#closing) {
        socket.destroy();
        return;
      }
      const connection = new FramedConnection(socket, {
        ...options,
        side: 'server',
        peer,
        logger,
        metrics: framedMetrics,
        sample,
      });
      this.#open.add(connection);
      connection.on('limit', (event) => this.emit('limit', event));
      connection.once('close', () => this.#open.delete(connection));
      this.emit('connection', peer, connection);
    });
    // The gate also closes sockets whose handshake failed or timed out, and (following the credentials)
    // re-checks open connections on every reload: CRLs, the chain to the bundle, notAfter.
    this.peerGate = new PeerGate(this.#tls, {
      authorize: options.authorize,
      credentials: options.credentials,
      logger,
      metrics,
      ...(options.clock ? { clock: options.clock } : {}),
      ...(options.expiry ? { expiry: options.expiry } : {}),
    });
    // New handshakes use the new material; established connections keep their session.
    this.#stop = followCredentials(options.credentials, (material) =>
      this.#tls.setSecureContext(serverTlsOptions(material)),
    );
  }

  /** Open, admitted connections. */
  get connections(): ReadonlySet<FramedConnection> {
    return this.#open;
  }

  /** The bound port (after listen). */
  get port(): number {
    return this.#port;
  }

  /** Listens on host:port (default 127.0.0.1:0); resolves with the bound port. */
  listen(port = 0, host = '127.0.0.1'): Promise<number> {
    return new Promise((resolve, reject) => {
      this.#tls.once('error', reject);
      this.#tls.listen(port, host, () => {
        this.#tls.off('error', reject);
        this.#port = (this.#tls.address() as AddressInfo).port;
        resolve(this.#port);
      });
    });
  }

  /**
   * Stops accepting, stops following the credentials, ends every open connection cleanly (each gets a
   * few seconds to finish before it is destroyed), then drops handshakes still in progress. Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#stop();
      this.peerGate.close();
      const stopped = new Promise<void>((resolve) => this.#tls.close(() => resolve()));
      await Promise.all([...this.#open].map((connection) => connection.close()));
      // What is left is still handshaking (or a peer that would not finish closing).
      for (const socket of this.#sockets) socket.destroy();
      await stopped;
    })();
    return this.#closing;
  }
}

/**
 * A framed mTLS server; `onConnection` (optional) is added as a 'connection' listener.
 * Call `listen()` to start accepting.
 */
export function createFramedServer(
  options: FramedServerOptions,
  onConnection?: (peer: PeerIdentity, connection: FramedConnection) => void,
): FramedServer {
  const server = new FramedServer(options);
  if (onConnection) server.on('connection', onConnection);
  return server;
}
