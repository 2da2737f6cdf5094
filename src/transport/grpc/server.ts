// The gRPC server adapter. Tessera owns the TLS listener (a node:tls server with the TLS 1.3 policy and the
// PeerGate in front, exactly like the HTTPS adapter) and hands each admitted connection to grpc-js through
// its public connection injector. So: handshake failures are classified and counted, the connection-level
// authorizer runs before any HTTP/2 byte is read, reloads swap the secure context of the same listener
// (no server rebuilt), the policy survives reloads, and PeerGate.revalidate() can close live connections.
// Per-call rules run in the grpcCallAuthorizer interceptor. Why not grpc-js's own TLS listener: see
// docs/wires/grpc.md ("Why Tessera owns the listener").
import type { AddressInfo } from 'node:net';
import { createServer as createTlsServer, type TLSSocket, type Server as TlsServer } from 'node:tls';
import {
  Server as GrpcServer,
  type ServerOptions as GrpcServerOptions,
  ServerCredentials,
} from '@grpc/grpc-js';
import type { Authorizer } from '../../tls/authorize.ts';
import type { Clock, Timers } from '../../tls/clock.ts';
import type { CredentialSource } from '../../tls/credential-source.ts';
import type { ExpiryMonitor } from '../../tls/expiry.ts';
import { followCredentials } from '../../tls/follow.ts';
import type { Logger } from '../../tls/logger.ts';
import { createTlsMetrics, type TlsMetrics } from '../../tls/metrics.ts';
import { serverTlsOptions } from '../../tls/policy.ts';
import { PeerGate } from '../peer-gate.ts';
import { type GrpcCallRejection, grpcCallAuthorizer } from './call-authorizer.ts';

export interface MtlsGrpcServerOptions {
  credentials: CredentialSource;
  /** Who may connect at all: runs right after the handshake, before any HTTP/2 byte (certificate rules always apply). */
  authorize: Authorizer;
  /**
   * Per-call authorizers by service ('pkg.Service') or method ('/pkg.Service/Method'), checked before the
   * handler runs; a method rule wins over its service's rule. Calls with no rule are allowed (the
   * connection already passed `authorize`). Refused calls end with PERMISSION_DENIED.
   */
  callRules?: Record<string, Authorizer>;
  clock?: Clock;
  /** Timers for the per-connection deadlines (peer notAfter, CRL nextUpdate); default Node's. */
  timers?: Timers;
  logger?: Logger;
  expiry?: ExpiryMonitor;
  /** Where handshake and call refusals are counted; default a private registry. */
  metrics?: TlsMetrics;
  onCallRejected?: (rejection: GrpcCallRejection) => void;
  /** grpc-js server options (message sizes, keepalive …); interceptors given here run after Tessera's. */
  grpc?: GrpcServerOptions;
  /** TLS handshake deadline for the listener; default 10 000 ms. */
  handshakeTimeoutMs?: number;
}

export interface MtlsGrpcServer {
  /** The grpc-js server: register services with `addService` (before or after listen). */
  readonly grpc: GrpcServer;
  /** The connection gate: `rejected` / `accepted` events, open connections, `revalidate()`. */
  readonly peerGate: PeerGate;
  /** Listens on host:port (default 127.0.0.1:0); resolves with the bound port. */
  listen(port?: number, host?: string): Promise<number>;
  /** The bound port (after listen). */
  readonly port: number;
  /** Stops accepting, ends calls (grace period for in-flight calls, default 0 = now) and closes connections. */
  close(graceMs?: number): Promise<void>;
}

export function createMtlsGrpcServer(options: MtlsGrpcServerOptions): MtlsGrpcServer {
  const { credentials } = options;
  const metrics = options.metrics ?? createTlsMetrics();
  const shared = {
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.logger ? { logger: options.logger } : {}),
    metrics,
  };
  const grpc = new GrpcServer({
    ...options.grpc,
    interceptors: [
      grpcCallAuthorizer({
        ...shared,
        rules: options.callRules ?? {},
        ...(options.onCallRejected ? { onRejected: options.onCallRejected } : {}),
      }),
      ...(options.grpc?.interceptors ?? []),
    ],
  });
  // Plaintext from grpc-js's point of view: the bytes it sees were decrypted by our TLS listener, and the
  // auth context still reads the peer certificate from the TLSSocket under the HTTP/2 session.
  const injector = grpc.createConnectionInjector(ServerCredentials.createInsecure());
  const tls: TlsServer = createTlsServer({
    ...serverTlsOptions(credentials.material),
    ALPNProtocols: ['h2'],
    handshakeTimeout: options.handshakeTimeoutMs ?? 10_000,
  });
  // Registered before the gate, which takes it over and calls it only for admitted peers.
  tls.on('secureConnection', (socket: TLSSocket) => injector.injectConnection(socket));
  const peerGate = new PeerGate(tls, {
    ...shared,
    credentials,
    ...(options.timers ? { timers: options.timers } : {}),
    authorize: options.authorize,
    ...(options.expiry ? { expiry: options.expiry } : {}),
  });
  // New handshakes use the new material; established connections and their streams keep their session.
  const stop = followCredentials(credentials, (material) => tls.setSecureContext(serverTlsOptions(material)));
  let port = 0;

  return {
    grpc,
    peerGate,
    get port() {
      return port;
    },
    listen(listenPort = 0, host = '127.0.0.1') {
      return new Promise<number>((resolve, reject) => {
        tls.once('error', reject);
        tls.listen(listenPort, host, () => {
          tls.off('error', reject);
          port = (tls.address() as AddressInfo).port;
          resolve(port);
        });
      });
    },
    async close(graceMs = 0) {
      stop();
      const closed = new Promise<void>((resolve) => tls.close(() => resolve()));
      if (graceMs > 0) {
        // GOAWAY now (no new calls), cancel what is still running at the deadline. grpc-js's tryShutdown
        // does not wait for the streams of injected sessions, so wait for the connections to close.
        injector.drain(graceMs);
        await connectionsClosed([...peerGate.connections], graceMs + 1000);
      }
      injector.destroy();
      grpc.forceShutdown();
      for (const socket of peerGate.connections) socket.destroy();
      peerGate.close();
      await closed;
    },
  };
}

/** Resolves when every socket has closed, or at the deadline. */
function connectionsClosed(sockets: TLSSocket[], deadlineMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, deadlineMs);
  });
  const closed = Promise.all(
    sockets.map((socket) =>
      socket.closed ? undefined : new Promise<void>((resolve) => socket.once('close', () => resolve())),
    ),
  ).then(() => undefined);
  return Promise.race([closed, deadline]).finally(() => clearTimeout(timer));
}
