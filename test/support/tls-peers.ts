// In-process mTLS endpoints for handshake tests: a gated HTTPS server that records every rejection it
// makes, and a raw node:tls client whose every knob can be turned.
import type { AddressInfo } from 'node:net';
import { type ConnectionOptions, connect, type TLSSocket } from 'node:tls';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import type { Authorizer } from '../../src/tls/authorize.ts';
import type { Clock, Timers } from '../../src/tls/clock.ts';
import { CredentialSource, type CredentialSourceOptions } from '../../src/tls/credential-source.ts';
import type { Logger } from '../../src/tls/logger.ts';
import type { MaterialPaths } from '../../src/tls/material.ts';
import { createTlsMetrics, type TlsMetrics } from '../../src/tls/metrics.ts';
import { createMtlsServer, type MtlsServer } from '../../src/transport/https-server.ts';
import type { Rejection } from '../../src/transport/rejections.ts';

export const silentLogger = pino({ level: 'silent' });

/**
 * Credentials that never reload on their own (no watch, no poll, no SIGHUP): what most tests want. A
 * `crlPath` beside the paths (the bad-TLS matrix's material) is loaded as the CRL path.
 */
export function openStaticCredentials(
  paths: MaterialPaths & { crlPath?: string },
  options: Partial<Omit<CredentialSourceOptions, keyof MaterialPaths>> = {},
): Promise<CredentialSource> {
  const { crlPath, ...material } = paths;
  return CredentialSource.open({
    ...material,
    ...(crlPath ? { crlPaths: [crlPath] } : {}),
    watch: false,
    pollIntervalMs: 0,
    sighup: false,
    logger: silentLogger,
    ...options,
  });
}

/** A registry of its own and the TLS metrics in it, so a test reads exactly what its objects counted. */
export function testMetrics(): { registry: Registry; metrics: TlsMetrics } {
  const registry = new Registry();
  return { registry, metrics: createTlsMetrics(registry) };
}

export interface TestServer {
  app: MtlsServer;
  /** Where the server and its credentials count (handshake rejections, reloads). */
  registry: Registry;
  credentials: CredentialSource;
  port: number;
  origin: string;
  rejections: Rejection[];
  /** Resolves with the next rejection the server records. */
  nextRejection(timeoutMs?: number): Promise<Rejection>;
  requests: number;
  close(): Promise<void>;
}

export async function startTestServer(
  paths: MaterialPaths & { crlPath?: string },
  authorize: Authorizer,
  options: {
    watch?: boolean;
    pollIntervalMs?: number;
    entityUri?: string;
    logger?: Logger;
    credentials?: Partial<Omit<CredentialSourceOptions, keyof MaterialPaths>>;
    clock?: Clock;
    timers?: Timers;
  } = {},
): Promise<TestServer> {
  const { registry, metrics } = testMetrics();
  const credentials = await openStaticCredentials(paths, {
    metrics,
    watch: options.watch ?? false,
    pollIntervalMs: options.pollIntervalMs ?? 0,
    ...(options.entityUri ? { entityUri: options.entityUri } : {}),
    ...options.credentials,
  });
  const app = createMtlsServer({
    credentials,
    authorize,
    logger: options.logger ?? silentLogger,
    metrics,
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.timers ? { timers: options.timers } : {}),
  });
  const server: TestServer = {
    app,
    registry,
    credentials,
    port: 0,
    origin: '',
    rejections: [],
    requests: 0,
    nextRejection: (timeoutMs = 10_000) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('server recorded no rejection')), timeoutMs);
        app.peerGate.once('rejected', (rejection) => {
          clearTimeout(timer);
          resolve(rejection);
        });
      }),
    async close() {
      credentials.close();
      await app.close();
    },
  };
  app.peerGate.on('rejected', (rejection) => server.rejections.push(rejection));
  app.addHook('onRequest', async () => {
    server.requests++;
  });
  app.get('/whoami', async (request) => ({
    uris: request.peer?.uris ?? null,
    served: credentials.material.leaf.fingerprint256,
  }));
  await app.listen({ host: '127.0.0.1', port: 0 });
  server.port = (app.server.address() as AddressInfo).port;
  server.origin = `https://127.0.0.1:${server.port}`;
  return server;
}

export interface RawOutcome {
  /** The client finished its side of the handshake. */
  handshake: boolean;
  /** The client's error, if any (code or message). */
  error?: string;
  /** Bytes of application data the client received before the connection ended. */
  received: string;
}

/**
 * Connects with node:tls, optionally writes `send` after the handshake, and waits for the connection to end
 * (the server closing it) or for `holdMs` to pass.
 */
export async function rawTlsAttempt(
  port: number,
  options: ConnectionOptions & { send?: string; holdMs?: number },
): Promise<RawOutcome> {
  const { send, holdMs = 3000, ...tlsOptions } = options;
  const socket: TLSSocket = connect({
    host: '127.0.0.1',
    port,
    checkServerIdentity: () => undefined,
    ...tlsOptions,
  });
  const outcome: RawOutcome = { handshake: false, received: '' };
  socket.on('secureConnect', () => {
    outcome.handshake = true;
    if (send) socket.write(send);
  });
  socket.on('data', (chunk: Buffer) => {
    outcome.received += chunk.toString();
  });
  socket.on('error', (error: NodeJS.ErrnoException) => {
    outcome.error ??= error.code ?? error.message;
  });
  const timer = setTimeout(() => socket.destroy(), holdMs);
  // Not events.once: it would reject on the 'error' that a refused handshake emits before 'close'.
  await new Promise((resolve) => socket.once('close', resolve));
  clearTimeout(timer);
  return outcome;
}
