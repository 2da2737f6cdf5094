// The HTTPS peer transport turns every failure into `peer_call_failed` naming the peer and why: a peer
// that trickles its answer hits the total deadline however slowly it sends; a closed port is named too.
// A peer that accepts the TCP connection but never answers the TLS handshake is cut at the connect deadline.
// (Dev-mode plain HTTP for the first two: the deadline and error mapping do not depend on TLS.)
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:http';
import { type AddressInfo, createServer as createTcpServer, type Socket } from 'node:net';
import { test } from 'node:test';
import { NodeError } from '../../../src/node/errors.ts';
import { HttpsPeerTransport } from '../../../src/node/features/federation/https/https-peer-transport.ts';
import { createTestCa, tempDir, writeMaterial } from '../../support/pki.ts';
import { openStaticCredentials } from '../../support/tls-peers.ts';

const refusedWith = (peerError: RegExp, detail: RegExp) => (error: unknown) => {
  assert.ok(error instanceof NodeError, String(error));
  assert.equal(error.code, 'peer_call_failed');
  assert.match(String(error.extra.peer_error), peerError);
  assert.match(error.message, detail);
  return true;
};

test('a peer that trickles its answer is cut at the total deadline', async (t) => {
  const server = createServer((_request, response) => {
    response.writeHead(200, { 'content-type': 'application/json' });
    response.write('{"facts":[');
    // One byte every 50 ms: never idle long enough for an idle timeout, never done.
    const timer = setInterval(() => response.write(' '), 50);
    response.on('close', () => clearInterval(timer));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  const transport = new HttpsPeerTransport({ credentials: null, totalTimeoutMs: 400, timeoutMs: 10_000 });
  t.after(() => transport.close());
  const peer = {
    entityUri: 'spiffe://example.org/node/slow',
    federationUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
  };
  await assert.rejects(
    transport.pullFacts(peer, 'token', { limit: 10 }),
    refusedWith(/TimeoutError/, /^spiffe:\/\/example\.org\/node\/slow: no complete answer within 400 ms$/),
  );
});

test('a peer that is not listening: peer_call_failed with the network reason', async (t) => {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  server.close();
  await once(server, 'close');
  const transport = new HttpsPeerTransport({ credentials: null });
  t.after(() => transport.close());
  await assert.rejects(
    transport.wake(
      { entityUri: 'spiffe://example.org/node/gone', federationUrl: `http://127.0.0.1:${port}` },
      't',
    ),
    refusedWith(/ECONNREFUSED/, /^spiffe:\/\/example\.org\/node\/gone: /),
  );
});

test('a peer that takes the TCP connection but never answers the TLS handshake is cut at the connect deadline', async (t) => {
  const ca = await createTestCa();
  const paths = await writeMaterial(await tempDir(t), 'client', await ca.issue('client'), ca.certPem);
  const credentials = await openStaticCredentials(paths);
  t.after(() => credentials.close());
  const held: Socket[] = [];
  // Accepts and then says nothing: the ClientHello is never answered.
  const server = createTcpServer((socket) => held.push(socket));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => {
    for (const socket of held) socket.destroy();
    server.close();
  });
  const transport = new HttpsPeerTransport({
    credentials,
    expectedIdentity: () => 'spiffe://test.example/node/mute',
    connectTimeoutMs: 300,
    totalTimeoutMs: 30_000,
    timeoutMs: 30_000,
  });
  t.after(() => transport.close());
  const started = Date.now();
  await assert.rejects(
    transport.pullFacts(
      {
        entityUri: 'spiffe://test.example/node/mute',
        federationUrl: `https://127.0.0.1:${(server.address() as AddressInfo).port}`,
      },
      'token',
      { limit: 10 },
    ),
    refusedWith(/UND_ERR_CONNECT_TIMEOUT/, /^spiffe:\/\/test\.example\/node\/mute: .*timeout/i),
  );
  assert.equal(held.length, 1, 'the TCP connection was made: it is the handshake that timed out');
  assert.ok(
    Date.now() - started < 8_000,
    'cut by the 300 ms connect deadline, not the default 10 s or the 30 s total',
  );
});
