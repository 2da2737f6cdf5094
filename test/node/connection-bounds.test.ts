// Connection bounds on a real `tessera serve` with small limits, over real sockets: a connection that never
// starts its TLS handshake is closed at the handshake deadline, a client that never finishes its headers
// gets 408 and a close, and over TESSERA_MAX_CONNECTIONS a new connection is closed at once while the
// established ones keep working.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type NodeProcess, startNodeProcess } from '../support/node-process.ts';
import { createTestCa, type TestCa } from '../support/pki.ts';

const portOf = (url: string) => Number(new URL(url).port);

/** A raw TCP connection; resolves once connected. */
async function open(port: number): Promise<Socket & { received: string }> {
  const socket = Object.assign(connect({ host: '127.0.0.1', port }), { received: '' });
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => {
    socket.received += chunk;
  });
  socket.on('error', () => undefined); // a reset is one of the ways a server closes
  await once(socket, 'connect');
  return socket;
}

/** Resolves with the ms until the server closed the socket; rejects after `withinMs`. */
function closedWithin(socket: Socket, withinMs: number): Promise<number> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`still open after ${withinMs} ms`)), withinMs);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(performance.now() - started);
    });
  });
}

describe('connection bounds', () => {
  let ca: TestCa;
  let root: string;
  const sockets: Socket[] = [];
  const nodes: NodeProcess[] = [];

  before(async () => {
    ca = await createTestCa();
    root = await mkdtemp(join(tmpdir(), 'tessera-bounds-'));
  });
  after(async () => {
    for (const socket of sockets) socket.destroy();
    await Promise.all(nodes.map((node) => node.stop()));
    await rm(root, { recursive: true, force: true });
  });

  test('no TLS handshake within TESSERA_TLS_HANDSHAKE_TIMEOUT_MS: closed; slow headers: 408 and closed', async () => {
    const node = await startNodeProcess({
      name: 'slow',
      ca,
      root,
      env: { TESSERA_TLS_HANDSHAKE_TIMEOUT_MS: '400', TESSERA_HTTP_HEADERS_TIMEOUT_MS: '400' },
    });
    nodes.push(node);
    const silent = await open(portOf(node.federationUrl));
    sockets.push(silent);
    const waited = await closedWithin(silent, 15_000);
    assert.ok(waited >= 300, `closed at the deadline, not at once (${Math.round(waited)} ms)`);

    const slow = await open(portOf(node.apiUrl));
    sockets.push(slow);
    slow.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n'); // the headers never end
    await closedWithin(slow, 15_000);
    assert.match(slow.received, /^HTTP\/1\.1 408 /);
  });

  test('over TESSERA_MAX_CONNECTIONS a new connection is closed at once; established ones still answer', async () => {
    const node = await startNodeProcess({ name: 'capped', ca, root, env: { TESSERA_MAX_CONNECTIONS: '3' } });
    nodes.push(node);
    const port = portOf(node.apiUrl);
    const held = [await open(port), await open(port), await open(port)];
    sockets.push(...held);
    const extra = await open(port);
    sockets.push(extra);
    await closedWithin(extra, 10_000);
    assert.equal(extra.received, '', 'refused without an answer');
    const first = held[0] as Socket & { received: string };
    first.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n');
    await once(first, 'close');
    assert.match(first.received, /^HTTP\/1\.1 200 /);
  });
});
