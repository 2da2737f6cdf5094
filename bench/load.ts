// Load generators of the benchmark, each bounded in count and in time: a loop stops at `count` operations or
// at `seconds`, whichever comes first, and reports how many it did, so a slow or stuck server cannot hold the
// benchmark (or CI) forever.
import { once } from 'node:events';
import { connect } from 'node:tls';
import { Agent, request } from 'undici';

export interface Bound {
  count: number;
  seconds: number;
}

export interface LoadResult {
  done: number;
  wallSeconds: number;
}

export interface ClientMaterial {
  cert: string;
  key: string;
  ca: string;
}

/** `concurrency` loops sharing one budget; each loop runs `one()` until the budget or the deadline is spent. */
async function bounded(
  bound: Bound,
  concurrency: number,
  one: (i: number) => Promise<void>,
): Promise<LoadResult> {
  const started = performance.now();
  const deadline = started + bound.seconds * 1000;
  let next = 0;
  let done = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < bound.count && performance.now() < deadline) {
        await one(next++);
        done++;
      }
    }),
  );
  return { done, wallSeconds: (performance.now() - started) / 1000 };
}

/** One new mutual-TLS connection to 127.0.0.1:port, closed as soon as its handshake is done. */
async function handshake(port: number, client: ClientMaterial): Promise<void> {
  const socket = connect({
    host: '127.0.0.1',
    port,
    ...client,
    minVersion: 'TLSv1.3',
    checkServerIdentity: () => undefined,
  });
  let ok = false;
  socket.on('secureConnect', () => {
    ok = true;
    socket.end();
  });
  socket.on('error', () => {});
  await once(socket, 'close');
  if (!ok) throw new Error(`handshake with 127.0.0.1:${port} failed`);
}

/** New mutual-TLS connections, each closed as soon as its handshake is done; 8 at a time. */
export function handshakeLoad(port: number, client: ClientMaterial, bound: Bound): Promise<LoadResult> {
  return bounded(bound, 8, () => handshake(port, client));
}

/**
 * New mutual-TLS connections to several servers at once, 8 at a time, each connection to the next server in
 * turn, so every server is measured over the same moments of the machine; `bound.count` is per server.
 * Returns how many handshakes each server completed.
 */
export async function mixedHandshakeLoad(
  ports: readonly number[],
  client: ClientMaterial,
  bound: Bound,
): Promise<{ done: number[]; wallSeconds: number }> {
  const done = ports.map(() => 0);
  const result = await bounded({ ...bound, count: bound.count * ports.length }, 8, async (i) => {
    const server = i % ports.length;
    await handshake(ports[server] as number, client);
    done[server]! += 1;
  });
  return { done, wallSeconds: result.wallSeconds };
}

export interface HttpTarget {
  url: string;
  apiKey: string;
}

/** A keep-alive mutual-TLS HTTP client with `connections` sockets (the server's identity is not checked). */
export function mtlsAgent(client: ClientMaterial, connections: number): Agent {
  return new Agent({
    connections,
    pipelining: 1,
    keepAliveTimeout: 60_000,
    connect: {
      cert: client.cert,
      key: client.key,
      ca: client.ca,
      minVersion: 'TLSv1.3',
      rejectUnauthorized: true,
      checkServerIdentity: () => undefined,
    } as NonNullable<Agent.Options['connect']>,
  });
}

/**
 * `concurrency` requests in flight over `agent`; `make(i)` gives the method, path and body of request i and
 * every answer must have `status`.
 */
export function httpLoad(
  agent: Agent,
  target: HttpTarget,
  bound: Bound,
  concurrency: number,
  status: number,
  make: (i: number) => { method: 'GET' | 'POST'; path: string; body?: string },
): Promise<LoadResult> {
  return bounded(bound, concurrency, async (i) => {
    const { method, path, body } = make(i);
    const response = await request(new URL(path, target.url), {
      method,
      dispatcher: agent,
      headers: {
        authorization: `Bearer ${target.apiKey}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body }),
    });
    const text = await response.body.text();
    if (response.statusCode !== status)
      throw new Error(`${method} ${path}: ${response.statusCode} ${text.slice(0, 300)}`);
  });
}
