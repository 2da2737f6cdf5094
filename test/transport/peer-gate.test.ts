// PeerGate.revalidate(): after a revocation (a URI added to a deny-list getter) the open keep-alive
// connection of that peer is closed, counted and logged with its reason; other peers keep theirs.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, before, describe, test } from 'node:test';
import { connect, type TLSSocket } from 'node:tls';
import { allOf, denyList, uriPrefix } from '../../src/tls/authorize.ts';
import { counterValue } from '../support/metrics.ts';
import { createTestCa, pemOf, type TestCa, tempDir, testUri, writeMaterial } from '../support/pki.ts';
import { until } from '../support/reload.ts';
import { startTestServer, type TestServer } from '../support/tls-peers.ts';

type Pem = { certPem: string; keyPem: string; caPem: string };

/** A raw keep-alive HTTP/1.1 connection: one request per call, the socket stays open in between. */
class KeepAliveClient {
  readonly socket: TLSSocket;
  readonly closed: Promise<unknown>;
  #buffer = '';

  constructor(port: number, pem: Pem) {
    this.socket = connect({
      host: '127.0.0.1',
      port,
      cert: pem.certPem,
      key: pem.keyPem,
      ca: pem.caPem,
      minVersion: 'TLSv1.3',
      checkServerIdentity: () => undefined,
    });
    this.socket.setEncoding('utf8');
    this.socket.on('data', (chunk: string) => {
      this.#buffer += chunk;
    });
    this.socket.on('error', () => {});
    this.closed = once(this.socket, 'close');
  }

  /** GET /whoami on this connection; resolves with the status line once the JSON body arrived. */
  async whoami(): Promise<string> {
    this.#buffer = '';
    this.socket.write('GET /whoami HTTP/1.1\r\nHost: localhost\r\n\r\n');
    await until('a response on the kept-alive connection', () => this.#buffer.endsWith('}'), {
      timeoutMs: 10_000,
    });
    return this.#buffer.split('\r\n')[0] ?? '';
  }
}

describe('PeerGate.revalidate()', () => {
  let ca: TestCa;
  let server: TestServer;
  const revoked = new Set<string>();

  before(async () => {
    ca = await createTestCa();
    // Removed as soon as this hook ends (after() inside a hook): fine, the server never rereads its files.
    const dir = await tempDir({ after });
    const paths = await writeMaterial(dir, 'server', await ca.issue('server'), ca.certPem);
    server = await startTestServer(
      paths,
      allOf(
        denyList(() => ({ uris: revoked })),
        uriPrefix('spiffe://test.example/'),
      ),
    );
  });
  after(() => server.close());

  test('a revoked peer loses its open connection (counted as denied); others keep theirs', async () => {
    const alice = new KeepAliveClient(server.port, pemOf(await ca.issue('alice'), ca.certPem));
    const bob = new KeepAliveClient(server.port, pemOf(await ca.issue('bob'), ca.certPem));
    assert.equal(await alice.whoami(), 'HTTP/1.1 200 OK');
    assert.equal(await bob.whoami(), 'HTTP/1.1 200 OK');
    assert.equal(server.app.peerGate.connections.size, 2);

    assert.equal(server.app.peerGate.revalidate(), 0, 'nothing revoked yet: nothing closed');
    assert.equal(server.app.peerGate.connections.size, 2);

    const deniedBefore = await counterValue(server.registry, 'tessera_tls_handshake_rejections_total', {
      side: 'server',
      reason: 'denied',
    });
    const rejection = server.nextRejection();
    revoked.add(testUri('alice'));
    assert.equal(server.app.peerGate.revalidate(), 1, 'one connection closed');
    const recorded = await rejection;
    assert.equal(recorded.reason, 'denied');
    assert.equal(recorded.peer, testUri('alice'));
    assert.match(recorded.detail, new RegExp(`URI ${testUri('alice')} is on the deny-list`));
    assert.equal(
      await counterValue(server.registry, 'tessera_tls_handshake_rejections_total', {
        side: 'server',
        reason: 'denied',
      }),
      deniedBefore + 1,
    );

    await alice.closed;
    await until('the gate to forget the closed connection', () => server.app.peerGate.connections.size === 1);
    assert.equal(await bob.whoami(), 'HTTP/1.1 200 OK', "bob's kept-alive connection still serves");

    // A new connection of the revoked peer is refused at the gate.
    const refusal = server.nextRejection();
    const again = new KeepAliveClient(server.port, pemOf(await ca.issue('alice'), ca.certPem));
    assert.equal((await refusal).reason, 'denied');
    await again.closed;
    bob.socket.destroy();
  });
});
