// Frames over real mTLS connections: round trips of every size class up to exactly the maximum, a frame
// one byte over refused from its header alone (connection closed, `frame_too_large` counted), headers split
// across TCP chunks and frames coalesced into one, identities on both sides, and async iteration.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { exactUri } from '../../../src/tls/authorize.ts';
import type { MaterialPaths } from '../../../src/tls/material.ts';
import { frameHeader } from '../../../src/transport/framed/decoder.ts';
import { framedClient, nextFrame, roundTrip, startFramedServer } from '../../support/framed-peers.ts';
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

test('frames round trip: empty, one byte, 64 KiB, and exactly the default maximum (16 MiB); peers see each other', async (t) => {
  const server = await startFramedServer(serverPaths, exactUri(testUri('alice')));
  t.after(() => server.close());
  const client = await framedClient(server.port, clientPaths, testUri('server'));
  t.after(() => client.close());
  const connection = await client.connect();
  t.after(() => connection.destroy());
  assert.deepEqual(connection.peer.uris, [testUri('server')], 'the client sees the server identity');
  assert.equal(connection.maxFrameBytes, 16 * 1024 * 1024);

  for (const size of [0, 1, 65_536, 16 * 1024 * 1024]) {
    const frame = Buffer.alloc(size);
    for (let i = 0; i < size; i += 4093) frame[i] = i % 251;
    const echoed = await roundTrip(connection, frame);
    assert.equal(echoed.length, size);
    assert.ok(Buffer.from(echoed).equals(frame), `frame of ${size} bytes comes back unchanged`);
  }
  const [accepted] = server.server.connections;
  assert.deepEqual(accepted?.peer.uris, [testUri('alice')], 'the server sees the client identity');
  assert.deepEqual(server.limits, []);
});

test('a frame one byte over the maximum closes the connection from its header (frame_too_large, counted)', async (t) => {
  const max = 1024;
  const server = await startFramedServer(serverPaths, exactUri(testUri('alice')), { maxFrameBytes: max });
  t.after(() => server.close());
  const client = await framedClient(server.port, clientPaths, testUri('server'), { maxFrameBytes: max * 4 });
  t.after(() => client.close());

  const ok = await client.connect();
  t.after(() => ok.destroy());
  assert.equal((await roundTrip(ok, Buffer.alloc(max, 9))).length, max, 'exactly the maximum is accepted');

  await server.nextConnection();
  const connection = await client.connect();
  const serverSide = await server.nextConnection();
  // Only the header goes out: the server must refuse without waiting for a body.
  connection.socket.write(frameHeader(max + 1));
  await connection.closed;
  assert.equal(connection.closeReason, 'socket_closed');
  await serverSide.closed;
  assert.equal(serverSide.closeReason, 'frame_too_large');
  assert.equal(server.limits.length, 1);
  assert.equal(server.limits[0]?.reason, 'frame_too_large');
  assert.equal(server.limits[0]?.side, 'server');
  assert.equal(server.limits[0]?.peer, testUri('alice'));
  assert.match(server.limits[0]?.detail ?? '', /1025 bytes/);
  assert.equal(await counterValue(server.registry, LIMIT, { side: 'server', reason: 'frame_too_large' }), 1);

  // The other connection is untouched.
  assert.equal((await roundTrip(ok, Buffer.from('still here'))).toString(), 'still here');
});

test('send() refuses a frame over its own maximum without sending anything', async (t) => {
  const server = await startFramedServer(serverPaths, exactUri(testUri('alice')), { maxFrameBytes: 16 });
  t.after(() => server.close());
  const client = await framedClient(server.port, clientPaths, testUri('server'), { maxFrameBytes: 16 });
  t.after(() => client.close());
  const connection = await client.connect();
  t.after(() => connection.destroy());
  await assert.rejects(connection.send(Buffer.alloc(17)), RangeError);
  assert.equal((await roundTrip(connection, Buffer.alloc(16))).length, 16, 'the connection is still usable');
});

test('a header split byte by byte across TCP chunks, and several frames coalesced in one chunk', async (t) => {
  const server = await startFramedServer(serverPaths, exactUri(testUri('alice')));
  t.after(() => server.close());
  const client = await framedClient(server.port, clientPaths, testUri('server'));
  t.after(() => client.close());
  const connection = await client.connect();
  t.after(() => connection.destroy());
  const socket = connection.socket;
  const write = (bytes: Uint8Array) =>
    new Promise<void>((resolve, reject) =>
      socket.write(bytes, (error) => (error ? reject(error) : resolve())),
    );

  // Each write is its own TLS record, so the server reads the header one byte per chunk.
  const split = nextFrame(connection);
  const body = Buffer.from('split header');
  for (const byte of frameHeader(body.length)) await write(Uint8Array.of(byte));
  await write(body.subarray(0, 5));
  await write(body.subarray(5));
  assert.equal(Buffer.from(await split).toString(), 'split header');

  // Three frames (one empty) and the first half of a fourth's header, in one write.
  const received: string[] = [];
  connection.on('frame', (frame) => received.push(Buffer.from(frame).toString()));
  const fourth = Buffer.from('fourth');
  const header = frameHeader(fourth.length);
  await write(
    Buffer.concat([
      frameHeader(1),
      Buffer.from('a'),
      frameHeader(0),
      frameHeader(2),
      Buffer.from('bc'),
      header.subarray(0, 2),
    ]),
  );
  await write(Buffer.concat([header.subarray(2), fourth]));
  await until('four echoed frames', () => received.length >= 4);
  assert.deepEqual(received, ['a', '', 'bc', 'fourth']);
});

test('frames can be read by async iteration; it ends when the connection closes', async (t) => {
  const server = await startFramedServer(serverPaths, exactUri(testUri('alice')), { echo: false });
  t.after(() => server.close());
  const client = await framedClient(server.port, clientPaths, testUri('server'));
  t.after(() => client.close());
  const connection = await client.connect();
  const serverSide = await server.nextConnection();
  for (const word of ['one', 'two', '', 'three']) await connection.send(Buffer.from(word));
  const closing = connection.close();
  const seen: string[] = [];
  for await (const frame of serverSide) seen.push(Buffer.from(frame).toString());
  await closing;
  assert.deepEqual(seen, ['one', 'two', '', 'three']);
  assert.equal(connection.closeReason, 'closed');
  assert.equal(serverSide.closeReason, 'socket_closed');
  await assert.rejects(connection.send(Buffer.from('late')), { code: 'FRAMED_CONNECTION_CLOSED' });
});
