// gRPC over Tessera's mTLS with real handshakes: the caller's identity (typed URI SAN, fingerprint) is
// visible in unary and server-streaming handlers; a per-method rule refuses one method with
// PERMISSION_DENIED (reason counted and reported) while the rest of the service keeps working.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type ServiceError, status } from '@grpc/grpc-js';
import { pino } from 'pino';
import { exactUri, uriPrefix } from '../../../src/tls/authorize.ts';
import { createMtlsChannelCredentials } from '../../../src/transport/grpc/channel-credentials.ts';
import { call, EchoClient, type Tick } from '../../support/grpc-echo.ts';
import { type GrpcTestServer, grpcClient, startGrpcServer } from '../../support/grpc-peers.ts';
import { counterValue } from '../../support/metrics.ts';
import { createTestCa, type TestCa, tempDir, testUri, writeMaterial } from '../../support/pki.ts';
import { fingerprintOf } from '../../support/reload.ts';
import { openStaticCredentials, silentLogger } from '../../support/tls-peers.ts';

describe('gRPC calls over mTLS', () => {
  let ca: TestCa;
  let dir: string;
  let server: GrpcTestServer;
  // What the server logged (JSON lines), to assert refusals are logged with their reason.
  const logged: Record<string, unknown>[] = [];
  let removeDir: () => unknown = () => {};

  before(async () => {
    ca = await createTestCa();
    // Kept for the whole suite (an after() registered inside a hook would run when the hook ends).
    dir = await tempDir({ after: (fn) => (removeDir = fn) });
    server = await startGrpcServer(
      await writeMaterial(dir, 'server', await ca.issue('server'), ca.certPem),
      uriPrefix('spiffe://test.example/'),
      // Admin: only alice. The service's other methods: anyone the connection gate admitted.
      { '/tessera.test.Echo/Admin': exactUri(testUri('alice')) },
      { logger: pino({ level: 'info' }, { write: (line: string) => logged.push(JSON.parse(line)) }) },
    );
  });
  after(async () => {
    await server.close();
    await removeDir();
  });

  test('a unary call sees the caller identity from the certificate', async (t) => {
    const alice = await ca.issue('alice');
    const client = await grpcClient(
      server.port,
      await writeMaterial(dir, 'alice', alice, ca.certPem),
      testUri('server'),
    );
    t.after(() => client.close());
    const seen = await call(client.client, 'WhoAmI');
    assert.deepEqual(seen.uris, [testUri('alice')]);
    assert.equal(seen.fingerprint256, fingerprintOf(alice.certPem));
  });

  test('a server stream sees the caller identity and delivers every message', async (t) => {
    const bob = await ca.issue('bob');
    const client = await grpcClient(
      server.port,
      await writeMaterial(dir, 'bob', bob, ca.certPem),
      testUri('server'),
    );
    t.after(() => client.close());
    const stream = client.client.Tick({});
    const ticks: Tick[] = [];
    const three = new Promise<void>((resolve) =>
      stream.on('data', (tick: Tick) => {
        ticks.push(tick);
        if (ticks.length === 1) server.echo.push();
        if (ticks.length === 2) server.echo.push();
        if (ticks.length === 3) resolve();
      }),
    );
    await three;
    stream.cancel();
    stream.on('error', () => {});
    assert.deepEqual(
      ticks.map((tick) => tick.peer),
      [fingerprintOf(bob.certPem), fingerprintOf(bob.certPem), fingerprintOf(bob.certPem)],
    );
    assert.deepEqual(
      ticks.map((tick, i) => tick.n - (ticks[0]?.n ?? 0) - i),
      [0, 0, 0],
      'consecutive ticks, none lost',
    );
  });

  test("the client's expectedUri lookup is asked for the authority dialled (host:port)", async (t) => {
    const asked: string[] = [];
    const credentials = await openStaticCredentials(
      await writeMaterial(dir, 'alice', await ca.issue('alice'), ca.certPem),
    );
    const channelCredentials = createMtlsChannelCredentials({
      credentials,
      expectedUri: (authority) => {
        asked.push(authority);
        return testUri('server');
      },
      logger: silentLogger,
    });
    const byIp = new EchoClient(`127.0.0.1:${server.port}`, channelCredentials, {
      'grpc.use_local_subchannel_pool': 1,
    });
    const byName = new EchoClient(`dns:///localhost:${server.port}`, channelCredentials, {
      'grpc.use_local_subchannel_pool': 1,
    });
    t.after(() => {
      byIp.close();
      byName.close();
      channelCredentials.close();
      credentials.close();
    });
    await call(byIp, 'WhoAmI');
    await call(byName, 'WhoAmI');
    assert.deepEqual(asked, [`127.0.0.1:${server.port}`, `localhost:${server.port}`]);
  });

  test('a per-method rule: Admin refused with PERMISSION_DENIED for bob (counted), allowed for alice', async (t) => {
    const bob = await grpcClient(
      server.port,
      await writeMaterial(dir, 'bob', await ca.issue('bob'), ca.certPem),
      testUri('server'),
    );
    const alice = await grpcClient(
      server.port,
      await writeMaterial(dir, 'alice', await ca.issue('alice'), ca.certPem),
      testUri('server'),
    );
    t.after(() => {
      bob.close();
      alice.close();
    });
    const before = await counterValue(server.registry, 'tessera_tls_handshake_rejections_total', {
      side: 'server',
      reason: 'uri_mismatch',
    });
    await assert.rejects(call(bob.client, 'Admin'), (error: ServiceError) => {
      assert.equal(error.code, status.PERMISSION_DENIED);
      assert.match(error.details, /^uri_mismatch: expected URI SAN spiffe:\/\/test\.example\/node\/alice/);
      return true;
    });
    const rejection = server.callRejections.at(-1);
    assert.equal(rejection?.method, '/tessera.test.Echo/Admin');
    assert.equal(rejection?.reason, 'uri_mismatch');
    assert.equal(rejection?.peer, testUri('bob'));
    assert.equal(
      await counterValue(server.registry, 'tessera_tls_handshake_rejections_total', {
        side: 'server',
        reason: 'uri_mismatch',
      }),
      before + 1,
    );
    assert.ok(
      logged.some(
        (line) =>
          line['event'] === 'tls_peer_rejected' &&
          line['side'] === 'server' &&
          line['reason'] === 'uri_mismatch' &&
          line['method'] === '/tessera.test.Echo/Admin' &&
          line['peer'] === testUri('bob'),
      ),
      'the refusal is logged with its reason, method and peer',
    );
    // The same connection still serves the methods bob may call; alice may call Admin.
    assert.deepEqual((await call(bob.client, 'WhoAmI')).uris, [testUri('bob')]);
    assert.deepEqual((await call(alice.client, 'Admin')).uris, [testUri('alice')]);
  });

  test('a service-wide rule applies to every method of that service', async (t) => {
    const dir2 = await tempDir(t);
    const strict = await startGrpcServer(
      await writeMaterial(dir2, 'server', await ca.issue('server'), ca.certPem),
      uriPrefix('spiffe://test.example/'),
      { 'tessera.test.Echo': exactUri(testUri('carol')) },
    );
    t.after(() => strict.close());
    const dave = await grpcClient(
      strict.port,
      await writeMaterial(dir2, 'dave', await ca.issue('dave'), ca.certPem),
      testUri('server'),
    );
    t.after(() => dave.close());
    await assert.rejects(call(dave.client, 'WhoAmI'), (error: ServiceError) => {
      assert.equal(error.code, status.PERMISSION_DENIED);
      assert.match(error.details, /^uri_mismatch: /);
      return true;
    });
    assert.equal(strict.callRejections.at(-1)?.method, '/tessera.test.Echo/WhoAmI');
  });
});
