// Framed TCP peers for transport tests: a framed mTLS server that echoes every frame (or hands connections
// to the test), clients built with createFramedClient, each with its own metrics registry and recorded
// refusals and limit closures, and hand-driven timers for deadline tests.
import type { Registry } from 'prom-client';
import type { Authorizer } from '../../src/tls/authorize.ts';
import type { CredentialSource } from '../../src/tls/credential-source.ts';
import type { MaterialPaths } from '../../src/tls/material.ts';
import {
  createFramedClient,
  type FramedClient,
  type FramedClientOptions,
} from '../../src/transport/framed/client.ts';
import type { FramedConnection } from '../../src/transport/framed/connection.ts';
import {
  createFramedMetrics,
  type FramedLimitEvent,
  type Timers,
} from '../../src/transport/framed/limits.ts';
import {
  createFramedServer,
  type FramedServer,
  type FramedServerOptions,
} from '../../src/transport/framed/server.ts';
import type { Rejection } from '../../src/transport/rejections.ts';
import { openStaticCredentials, silentLogger, testMetrics } from './tls-peers.ts';

export interface FramedTestServer {
  server: FramedServer;
  credentials: CredentialSource;
  port: number;
  /** Handshake refusals (TLS metrics) and limit closures (framed metrics) are both counted here. */
  registry: Registry;
  rejections: Rejection[];
  limits: FramedLimitEvent[];
  /** Resolves with the next admitted connection (in accept order). */
  nextConnection(): Promise<FramedConnection>;
  close(): Promise<void>;
}

type ServerExtras = Omit<FramedServerOptions, 'credentials' | 'authorize'> & {
  /** Echo every frame back (default true); false: the test reads connections from nextConnection(). */
  echo?: boolean;
  credentials?: CredentialSource;
};

export async function startFramedServer(
  paths: MaterialPaths,
  authorize: Authorizer,
  options: ServerExtras = {},
): Promise<FramedTestServer> {
  const { echo = true, credentials: given, ...serverOptions } = options;
  const credentials = given ?? (await openStaticCredentials(paths));
  const { registry, metrics } = testMetrics();
  const server = createFramedServer({
    logger: silentLogger,
    metrics,
    framedMetrics: createFramedMetrics(registry),
    ...serverOptions,
    credentials,
    authorize,
  });
  const rejections: Rejection[] = [];
  const limits: FramedLimitEvent[] = [];
  const accepted: FramedConnection[] = [];
  const waiting: ((connection: FramedConnection) => void)[] = [];
  server.peerGate.on('rejected', (rejection) => rejections.push(rejection));
  server.on('limit', (event) => limits.push(event));
  server.on('connection', (_peer, connection) => {
    if (echo) connection.on('frame', (frame) => void connection.send(frame).catch(() => {}));
    const waiter = waiting.shift();
    if (waiter) waiter(connection);
    else accepted.push(connection);
  });
  const port = await server.listen();
  return {
    server,
    credentials,
    port,
    registry,
    rejections,
    limits,
    nextConnection: () => {
      const ready = accepted.shift();
      return ready ? Promise.resolve(ready) : new Promise((resolve) => waiting.push(resolve));
    },
    async close() {
      await server.close();
      if (!given) credentials.close();
    },
  };
}

export interface FramedTestClient {
  client: FramedClient;
  credentials: CredentialSource;
  registry: Registry;
  rejections: Rejection[];
  connect(): Promise<FramedConnection>;
  close(): void;
}

/** A client of 127.0.0.1:port presenting `paths`, expecting the server to prove `expectedUri`. */
export async function framedClient(
  port: number,
  paths: MaterialPaths,
  expectedUri: string,
  options: Partial<Omit<FramedClientOptions, 'credentials'>> & { credentials?: CredentialSource } = {},
): Promise<FramedTestClient> {
  const { credentials: given, ...clientOptions } = options;
  const credentials = given ?? (await openStaticCredentials(paths));
  const { registry, metrics } = testMetrics();
  const rejections: Rejection[] = [];
  const client = createFramedClient({
    logger: silentLogger,
    metrics,
    framedMetrics: createFramedMetrics(registry),
    onRejected: (rejection) => rejections.push(rejection),
    ...clientOptions,
    credentials,
  });
  return {
    client,
    credentials,
    registry,
    rejections,
    connect: () => client.connect({ host: '127.0.0.1', port, expectedUri }),
    close() {
      client.close();
      if (!given) credentials.close();
    },
  };
}

/** Resolves with the connection's next frame; rejects if it closes first. */
export function nextFrame(connection: FramedConnection): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const onFrame = (frame: Uint8Array) => {
      connection.off('close', onClose);
      resolve(frame);
    };
    const onClose = (reason: string) => {
      connection.off('frame', onFrame);
      reject(new Error(`connection closed (${reason}) before a frame arrived`));
    };
    connection.once('frame', onFrame);
    connection.once('close', onClose);
  });
}

/** Sends `frame` and resolves with the frame that comes back (an echo server). */
export async function roundTrip(connection: FramedConnection, frame: Uint8Array): Promise<Uint8Array> {
  const reply = nextFrame(connection);
  await connection.send(frame);
  return reply;
}

/** Timers a test fires by hand: each pending one is kept with its delay. */
export interface ManualTimers extends Timers {
  /** Delays of the timers pending now. */
  pending(): number[];
  /** Runs (and removes) every pending timer of this delay; returns how many ran. */
  fire(ms: number): number;
}

export function manualTimers(): ManualTimers {
  const pending = new Map<number, { callback: () => void; ms: number }>();
  let next = 0;
  return {
    setTimeout(callback, ms) {
      const handle = ++next;
      pending.set(handle, { callback, ms });
      return handle;
    },
    clearTimeout(handle) {
      pending.delete(handle as number);
    },
    pending: () => [...pending.values()].map((timer) => timer.ms),
    fire(ms) {
      const due = [...pending].filter(([, timer]) => timer.ms === ms);
      for (const [handle, timer] of due) {
        pending.delete(handle);
        timer.callback();
      }
      return due.length;
    },
  };
}
