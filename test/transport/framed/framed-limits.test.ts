// The framed wire's limits with real connections: the per-frame and idle deadlines (timers driven by hand),
// the admission cap at accept (no handshake), the handshake deadline on both sides, a stalled and a garbage
// client that do not hold up a good one, and backpressure from a slow reader back to send().
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect as connectTcp, createServer as createTcpServer, type Socket } from 'node:net';
import { after, before, test } from 'node:test';
import { exactUri } from '../../../src/tls/authorize.ts';
import type { MaterialPaths } from '../../../src/tls/material.ts';
import { frameHeader } from '../../../src/transport/framed/decoder.ts';
import {
  framedClient,
  manualTimers,
  nextFrame,
  roundTrip,
  startFramedServer,
} from '../../support/framed-peers.ts';
import { counterValue } from '../../support/metrics.ts';
import { createTestCa, tempDir, testUri, writeMaterial } from '../../support/pki.ts';
import { until } from '../../support/reload.ts';

let serverPaths: MaterialPaths;
let clientPaths: MaterialPaths;
const cleanup: (() => unknown)[] = [];

before(async () => {
  const ca = await createTestCa();
  const dir = await tempDir({ after: (fn) => cleanup.push(fn) });
  serverPaths = await writeMaterial(dir, 'server', await ca.issue('server'), ca.certPem);
  clientPaths = await writeMaterial(dir, 'alice', await ca.issue('alice'), ca.certPem);
});
after(async () => {
  for (const fn of cleanup.reverse()) await fn();
});

const LIMIT = 'tessera_framed_limit_closures_total';
const FRAME_MS = 500_000;
const IDLE_MS = 900_000;
const admitAlice = exactUri(testUri('alice'));

/** A plain TCP socket to the port (no TLS), open. */
async function tcp(port: number): Promise<Socket> {
  const socket = connectTcp(port, '127.0.0.1');
  socket.on('error', () => {});
  await once(socket, 'connect');
  return socket;
}

test('a frame started but not finished within frameTimeoutMs closes the connection (frame_timeout)', async (t) => {
  const timers = manualTimers();
  const server = await startFramedServer(serverPaths, admitAlice, {
    timers,
    frameTimeoutMs: FRAME_MS,
    idleTimeoutMs: IDLE_MS,
  });
  t.after(() => server.close());
  const client = await framedClient(server.port, clientPaths, testUri('server'));
  t.after(() => client.close());
  const connection = await client.connect();
  t.after(() => connection.destroy());
  const serverSide = await server.nextConnection();
  assert.deepEqual(timers.pending(), [IDLE_MS], 'between frames only the idle deadline runs');

  // A whole frame, sent slowly (header, then body): its deadline is armed and then cleared.
  const echoed = nextFrame(connection);
  connection.socket.write(frameHeader(4));
  await until('the frame deadline to start', () => timers.pending().includes(FRAME_MS));
  connection.socket.write(Buffer.from('slow'));
  assert.equal(Buffer.from(await echoed).toString(), 'slow');
  assert.deepEqual(timers.pending().sort(), [IDLE_MS], 'a completed frame clears its deadline');

  // Half a header, then nothing: the deadline fires.
  connection.socket.write(Uint8Array.of(0, 0));
  await until('the frame deadline to start', () => timers.pending().includes(FRAME_MS));
  assert.equal(timers.fire(FRAME_MS), 1);
  await serverSide.closed;
  assert.equal(serverSide.closeReason, 'frame_timeout');
  await connection.closed;
  assert.deepEqual(
    server.limits.map((event) => [event.side, event.reason, event.peer]),
    [['server', 'frame_timeout', testUri('alice')]],
  );
  assert.equal(await counterValue(server.registry, LIMIT, { side: 'server', reason: 'frame_timeout' }), 1);
});

test('nothing received or sent for idleTimeoutMs closes the connection (idle_timeout), on either side', async (t) => {
  const serverTimers = manualTimers();
  const server = await startFramedServer(serverPaths, admitAlice, {
    timers: serverTimers,
    idleTimeoutMs: IDLE_MS,
  });
  t.after(() => server.close());
  const clientTimers = manualTimers();
  const client = await framedClient(server.port, clientPaths, testUri('server'), {
    timers: clientTimers,
    idleTimeoutMs: IDLE_MS,
  });
  t.after(() => client.close());

  const first = await client.connect();
  const firstServerSide = await server.nextConnection();
  await roundTrip(first, Buffer.from('ping'));
  assert.equal(serverTimers.fire(IDLE_MS), 1, 'one idle deadline per open connection');
  await firstServerSide.closed;
  assert.equal(firstServerSide.closeReason, 'idle_timeout');
  await first.closed;
  assert.equal(first.closeReason, 'socket_closed');
  assert.equal(await counterValue(server.registry, LIMIT, { side: 'server', reason: 'idle_timeout' }), 1);

  // The client enforces its own idle deadline too.
  const second = await client.connect();
  await roundTrip(second, Buffer.from('ping'));
  const events: string[] = [];
  second.on('limit', (event) => events.push(`${event.side}:${event.reason}`));
  assert.ok(clientTimers.fire(IDLE_MS) >= 1);
  await second.closed;
  assert.equal(second.closeReason, 'idle_timeout');
  assert.deepEqual(events, ['client:idle_timeout']);
  assert.equal(await counterValue(client.registry, LIMIT, { side: 'client', reason: 'idle_timeout' }), 1);
});

test('over maxConnections a socket is destroyed at accept, before any handshake (admission_cap)', async (t) => {
  const server = await startFramedServer(serverPaths, admitAlice, { maxConnections: 2 });
  t.after(() => server.close());
  const client = await framedClient(server.port, clientPaths, testUri('server'));
  t.after(() => client.close());
  const one = await client.connect();
  const two = await client.connect();
  t.after(() => {
    one.destroy();
    two.destroy();
  });

  // A third: the server closes it without a byte (no ServerHello), and counts it.
  const third = await tcp(server.port);
  let received = 0;
  third.on('data', (chunk: Buffer) => {
    received += chunk.length;
  });
  third.write('not even a ClientHello');
  await once(third, 'close');
  assert.equal(received, 0, 'no handshake was started for it');
  await until('the refusal to be recorded', () => server.limits.length > 0);
  assert.equal(server.limits[0]?.reason, 'admission_cap');
  assert.equal(server.limits[0]?.remoteAddress, '127.0.0.1');
  assert.deepEqual(server.rejections, [], 'nothing reached the TLS layer');
  assert.equal(await counterValue(server.registry, LIMIT, { side: 'server', reason: 'admission_cap' }), 1);
  assert.equal(
    (await roundTrip(one, Buffer.from('still'))).toString(),
    'still',
    'admitted ones are untouched',
  );

  // A slot frees up: the next connection is admitted.
  await two.close();
  await until('the server to see the close', () => server.server.connections.size === 1);
  const four = await client.connect();
  t.after(() => four.destroy());
  assert.equal((await roundTrip(four, Buffer.from('in'))).toString(), 'in');
});

test('a stalled TLS client and a garbage client do not delay a good one; stalled and dripping ones meet the handshake deadline', async (t) => {
  const server = await startFramedServer(serverPaths, admitAlice, { handshakeTimeoutMs: 60_000 });
  t.after(() => server.close());
  // Stalled: the first bytes of a ClientHello, then nothing.
  const stalled = await tcp(server.port);
  stalled.write(Uint8Array.of(0x16, 0x03, 0x01, 0x02, 0x00, 0x01));
  // Garbage: not TLS at all.
  const garbage = await tcp(server.port);
  garbage.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');

  const client = await framedClient(server.port, clientPaths, testUri('server'));
  t.after(() => client.close());
  const good = await client.connect();
  t.after(() => good.destroy());
  assert.equal((await roundTrip(good, Buffer.from('served'))).toString(), 'served');
  assert.equal(
    stalled.destroyed,
    false,
    'the good client was served while the stalled handshake still waits',
  );
  await until('the garbage to be refused', () => server.rejections.length > 0);
  assert.equal(server.rejections[0]?.reason, 'plaintext_http');
  stalled.destroy();
  garbage.destroy();

  // With a short deadline, a client that never finishes its handshake is closed and counted.
  const quick = await startFramedServer(serverPaths, admitAlice, { handshakeTimeoutMs: 200 });
  t.after(() => quick.close());
  const silent = await tcp(quick.port);
  await once(silent, 'close');
  await until('the timeout to be recorded', () => quick.rejections.length > 0);
  assert.equal(quick.rejections[0]?.reason, 'handshake_failed');
  assert.equal(quick.rejections[0]?.detail, 'ERR_TLS_HANDSHAKE_TIMEOUT');

  // The deadline is absolute: a client dripping its ClientHello a byte at a time does not extend it.
  const drip = await tcp(quick.port);
  drip.write(Uint8Array.of(0x16, 0x03, 0x01, 0x02, 0x00));
  const dripping = setInterval(() => drip.destroyed || drip.write(Uint8Array.of(0x01)), 50);
  t.after(() => clearInterval(dripping));
  await once(drip, 'close');
  await until('the second timeout to be recorded', () => quick.rejections.length > 1);
  assert.equal(quick.rejections[1]?.detail, 'ERR_TLS_HANDSHAKE_TIMEOUT');
});

test('the client gives up on a server that never finishes the handshake (FramedHandshakeTimeoutError)', async (t) => {
  const held: Socket[] = [];
  const mute = createTcpServer((socket) => held.push(socket));
  mute.listen(0, '127.0.0.1');
  await once(mute, 'listening');
  t.after(() => {
    for (const socket of held) socket.destroy();
    mute.close();
  });
  const port = (mute.address() as { port: number }).port;
  const client = await framedClient(port, clientPaths, testUri('server'), { handshakeTimeoutMs: 200 });
  t.after(() => client.close());
  await assert.rejects(client.connect(), { code: 'FRAMED_HANDSHAKE_TIMEOUT' });
});

test('backpressure: a reader that falls behind pauses the socket, and send() waits until it catches up', async (t) => {
  const server = await startFramedServer(serverPaths, admitAlice, { echo: false });
  t.after(() => server.close());
  const client = await framedClient(server.port, clientPaths, testUri('server'));
  t.after(() => client.close());
  const connection = await client.connect();
  t.after(() => connection.destroy());
  const serverSide = await server.nextConnection();

  // The server's consumer takes one frame, then stops until released.
  let release!: () => void;
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  let count = 0;
  const consumed = (async () => {
    for await (const frame of serverSide) {
      count++;
      if (count === 1) await released;
      if (frame.length === 0) break;
    }
  })();

  let queued = 0;
  serverSide.on('frame', () => queued++);
  const frame = Buffer.alloc(64 * 1024, 1);
  let sent = 0;
  let stop = false;
  // Each send is awaited: the loop can only run ahead as far as the buffers between the two ends allow.
  const sending = (async () => {
    while (!stop) {
      await connection.send(frame);
      sent++;
    }
  })();
  // Wait for the steady state: the server paused, the client's socket waiting for drain, sends stalled.
  let last = -1;
  let steady = 0;
  await until('sends to stall', () => {
    steady = sent === last ? steady + 1 : 0;
    last = sent;
    return serverSide.socket.isPaused() && connection.socket.writableNeedDrain && steady >= 10;
  });
  assert.ok(queued <= 64, `the server took in a bounded number of frames (${queued})`);
  assert.ok(sent < 20_000, `the sender was held back (${sent} frames sent)`);

  release();
  stop = true;
  await sending;
  await connection.send(new Uint8Array(0));
  await consumed;
  assert.equal(count, sent + 1, 'every frame arrived (and the empty end marker), none lost');
});
