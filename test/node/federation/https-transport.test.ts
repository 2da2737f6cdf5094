// The HTTPS peer transport turns every failure into `peer_call_failed` naming the peer and why: a peer
// that trickles its answer hits the total deadline however slowly it sends; a closed port is named too.
// (Dev-mode plain HTTP here: the deadline and error mapping do not depend on TLS, which other tests cover.)
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { NodeError } from '../../../src/node/errors.ts';
import { HttpsPeerTransport } from '../../../src/node/features/federation/https/https-peer-transport.ts';

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
