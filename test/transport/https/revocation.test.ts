// Revocation on the HTTPS adapter, on open connections: a CRL reload that revokes a peer closes its
// keep-alive connection within 1 s (cert_revoked, counted, serial logged) while another peer's stays and
// keeps serving; a CA dropped from the bundle closes its leaves' connections (cert_untrusted); a peer's
// notAfter and (stale policy fail) its CRL's nextUpdate close the connection when reached (injected clock
// and timers); a stale CRL under `warn` admits with a counted warning; and the HTTP client's pooled
// connection to a server its CRL now revokes is closed, the next request refused with cert_revoked.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { connect, type TLSSocket } from 'node:tls';
import { request } from 'undici';
import type { IssuedCertificate } from '../../../src/pki/certificate.ts';
import { uriPrefix } from '../../../src/tls/authorize.ts';
import { PeerRejectedError } from '../../../src/tls/errors.ts';
import { createMtlsAgent } from '../../../src/transport/http-client.ts';
import type { Rejection } from '../../../src/transport/rejections.ts';
import { manualTimers, serialOf, writeCrl } from '../../support/crl.ts';
import { counterValue } from '../../support/metrics.ts';
import { createTestCa, DAY_MS, tempDir, testUri, writeMaterial } from '../../support/pki.ts';
import { until } from '../../support/reload.ts';
import {
  openStaticCredentials,
  rawTlsAttempt,
  silentLogger,
  startTestServer,
  type TestServer,
  testMetrics,
} from '../../support/tls-peers.ts';

const REJECTIONS = 'tessera_tls_handshake_rejections_total';
const anyTestPeer = uriPrefix('spiffe://test.example/');

/** A keep-alive HTTPS connection that made one request; `get()` makes another on the same socket. */
async function keepAlive(t: TestContext, port: number, caPem: string, leaf: IssuedCertificate) {
  const socket: TLSSocket = connect({
    host: '127.0.0.1',
    port,
    ca: caPem,
    cert: leaf.chainPem,
    key: leaf.keyPem,
    checkServerIdentity: () => undefined,
  });
  socket.on('error', () => {});
  t.after(() => socket.destroy());
  const closed = new Promise<number>((resolve) => socket.once('close', () => resolve(Date.now())));
  const get = () =>
    new Promise<string>((resolve, reject) => {
      let text = '';
      const onData = (chunk: Buffer) => {
        text += chunk.toString();
        if (/\r\n\r\n[\s\S]*\}$/.test(text)) {
          socket.off('data', onData);
          resolve(text);
        }
      };
      socket.on('data', onData);
      socket.once('close', () => reject(new Error('connection closed')));
      socket.write('GET /whoami HTTP/1.1\r\nHost: localhost\r\nConnection: keep-alive\r\n\r\n');
    });
  await new Promise((resolve) => socket.once('secureConnect', resolve));
  assert.match(await get(), /^HTTP\/1\.1 200 /);
  return { socket, closed, get };
}

async function serverWithCrl(t: TestContext, options: Parameters<typeof startTestServer>[2] = {}) {
  const ca = await createTestCa('Revocation CA');
  const dir = await tempDir(t);
  const crlPath = join(dir, 'ca.crl');
  await writeCrl(crlPath, ca, []);
  const paths = await writeMaterial(dir, 'server', await ca.issue('server'), ca.certPem);
  const server = await startTestServer({ ...paths, crlPath }, anyTestPeer, options);
  t.after(() => server.close());
  return { ca, dir, crlPath, paths, server };
}

const lastRejection = (server: TestServer): Rejection | undefined => server.rejections.at(-1);

test("a CRL reload revoking bob closes bob's keep-alive connection within 1 s; alice's stays and serves", async (t) => {
  const { ca, crlPath, server } = await serverWithCrl(t);
  const bob = await ca.issue('bob');
  const alice = await keepAlive(t, server.port, ca.certPem, await ca.issue('alice'));
  const bobConnection = await keepAlive(t, server.port, ca.certPem, bob);

  await writeCrl(crlPath, ca, [bob]);
  const reloadedAt = Date.now();
  assert.equal((await server.credentials.reload('manual')).result, 'success');
  const closedAt = await bobConnection.closed;
  assert.ok(closedAt - reloadedAt < 1000, `closed ${closedAt - reloadedAt} ms after the reload`);
  assert.equal(lastRejection(server)?.reason, 'cert_revoked');
  assert.equal(lastRejection(server)?.serial, serialOf(bob));
  assert.equal(lastRejection(server)?.peer, testUri('bob'));
  assert.equal(
    await counterValue(server.registry, REJECTIONS, { side: 'server', reason: 'cert_revoked' }),
    1,
  );

  assert.match(await alice.get(), /^HTTP\/1\.1 200 /, "alice's connection still serves");
  assert.equal(alice.socket.destroyed, false);
  const again = await rawTlsAttempt(server.port, {
    ca: ca.certPem,
    cert: bob.chainPem,
    key: bob.keyPem,
    send: 'GET /whoami HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n',
  });
  assert.equal(again.received, '', 'a new connection of bob is refused too');
  await until('the refusal', () => server.rejections.length === 2);
  assert.equal(lastRejection(server)?.reason, 'cert_revoked');
});

test("a CA dropped from the bundle closes its leaves' connections (cert_untrusted); the other CA's stay", async (t) => {
  const ca = await createTestCa('Kept CA');
  const dropped = await createTestCa('Dropped CA');
  const dir = await tempDir(t);
  const paths = await writeMaterial(dir, 'server', await ca.issue('server'), ca.certPem + dropped.certPem);
  const server = await startTestServer(paths, anyTestPeer);
  t.after(() => server.close());
  const bundle = ca.certPem + dropped.certPem;
  const alice = await keepAlive(t, server.port, bundle, await ca.issue('alice'));
  const bob = await keepAlive(t, server.port, bundle, await dropped.issue('bob'));

  await writeFile(paths.caPath, ca.certPem);
  const reloadedAt = Date.now();
  assert.equal((await server.credentials.reload('manual')).result, 'success');
  assert.ok((await bob.closed) - reloadedAt < 1000);
  assert.equal(lastRejection(server)?.reason, 'cert_untrusted');
  assert.equal(lastRejection(server)?.peer, testUri('bob'));
  assert.match(await alice.get(), /^HTTP\/1\.1 200 /);
});

test('notAfter reached closes the connection (injected clock and timers); a later one stays', async (t) => {
  let now = new Date();
  const timers = manualTimers();
  const { ca, server } = await serverWithCrl(t, { clock: () => now, timers: timers.timers });
  const alice = await keepAlive(
    t,
    server.port,
    ca.certPem,
    await ca.issue('alice', { notAfter: new Date(Date.now() + DAY_MS) }),
  );
  const bob = await keepAlive(t, server.port, ca.certPem, await ca.issue('bob'));
  const delays = timers.pending().map((p) => p.ms);
  assert.ok(
    delays.some((ms) => Math.abs(ms - DAY_MS) < 60_000),
    `a timer at alice's notAfter (delays: ${delays})`,
  );

  now = new Date(Date.now() + 2 * DAY_MS);
  timers.fireAll();
  await alice.closed;
  assert.equal(lastRejection(server)?.reason, 'cert_expired');
  assert.equal(lastRejection(server)?.peer, testUri('alice'));
  assert.match(await bob.get(), /^HTTP\/1\.1 200 /, "bob's certificate (90 days) is still valid");
  assert.equal(timers.pending().length, 1, "bob's deadline is set again");
});

test("stale policy fail: the CRL's nextUpdate reached closes its peers' connections (crl_stale)", async (t) => {
  let now = new Date();
  const timers = manualTimers();
  const ca = await createTestCa('Revocation CA');
  const dir = await tempDir(t);
  const crlPath = join(dir, 'ca.crl');
  await writeCrl(crlPath, ca, [], { nextUpdate: new Date(Date.now() + 3_600_000) });
  const paths = await writeMaterial(dir, 'server', await ca.issue('server'), ca.certPem);
  const server = await startTestServer({ ...paths, crlPath }, anyTestPeer, {
    clock: () => now,
    timers: timers.timers,
  });
  t.after(() => server.close());
  const alice = await keepAlive(t, server.port, ca.certPem, await ca.issue('alice'));
  const [delay] = timers.pending().map((p) => p.ms);
  assert.ok(delay !== undefined && Math.abs(delay - 3_600_000) < 60_000, `timer at nextUpdate (${delay})`);
  now = new Date(Date.now() + 2 * 3_600_000);
  timers.fireAll();
  await alice.closed;
  assert.equal(lastRejection(server)?.reason, 'crl_stale');
});

test('stale policy warn: a peer of a CA whose CRL is past nextUpdate is admitted, counted and logged', async (t) => {
  const ca = await createTestCa('Revocation CA');
  const dir = await tempDir(t);
  const crlPath = join(dir, 'ca.crl');
  await writeCrl(crlPath, ca, [], { stale: true });
  const paths = await writeMaterial(dir, 'server', await ca.issue('server'), ca.certPem);
  const lines: Record<string, unknown>[] = [];
  const logger = silentLogger.child({});
  logger.warn = ((obj: Record<string, unknown>) => {
    lines.push(obj);
  }) as typeof logger.warn;
  const server = await startTestServer({ ...paths, crlPath }, anyTestPeer, {
    credentials: { crlStale: 'warn' },
    logger,
  });
  t.after(() => server.close());
  const alice = await keepAlive(t, server.port, ca.certPem, await ca.issue('alice'));
  assert.equal(alice.socket.destroyed, false);
  assert.equal(server.rejections.length, 0);
  assert.equal(
    await counterValue(server.registry, 'tessera_tls_crl_stale_accepted_total', { side: 'server' }),
    1,
  );
  assert.equal(lines.find((line) => line.event === 'tls_crl_stale_accepted')?.issuer, 'CN=Revocation CA');
});

test('the HTTP client closes its pooled connection to a server its CRL now revokes; the next request is refused', async (t) => {
  const ca = await createTestCa('Revocation CA');
  const dir = await tempDir(t);
  const serverCert = await ca.issue('server');
  const server = await startTestServer(
    await writeMaterial(dir, 'server', serverCert, ca.certPem),
    anyTestPeer,
  );
  t.after(() => server.close());
  const crlPath = join(dir, 'client.crl');
  await writeCrl(crlPath, ca, []);
  const { registry, metrics } = testMetrics();
  const credentials = await openStaticCredentials({
    ...(await writeMaterial(dir, 'client', await ca.issue('client'), ca.certPem)),
    crlPath,
  });
  t.after(() => credentials.close());
  const agent = createMtlsAgent({
    credentials,
    expectedIdentity: { [server.origin]: testUri('server') },
    logger: silentLogger,
    metrics,
  });
  t.after(() => agent.close());
  const first = await request(`${server.origin}/whoami`, { dispatcher: agent });
  await first.body.json();
  assert.equal(server.app.peerGate.connections.size, 1, 'one pooled connection');

  await writeCrl(crlPath, ca, [serverCert]);
  const reloadedAt = Date.now();
  assert.equal((await credentials.reload('manual')).result, 'success');
  await until('the pooled connection to close', () => server.app.peerGate.connections.size === 0);
  assert.ok(Date.now() - reloadedAt < 1000);
  assert.equal(await counterValue(registry, REJECTIONS, { side: 'client', reason: 'cert_revoked' }), 1);
  await assert.rejects(request(`${server.origin}/whoami`, { dispatcher: agent }), (error: Error) => {
    assert.ok(error instanceof PeerRejectedError, String(error));
    assert.equal(error.reason, 'cert_revoked');
    return true;
  });
});
