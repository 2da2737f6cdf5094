// examples/mesh-cache as three real processes (plus an intruder), peered over framed mTLS with a dev PKI:
// a put on one node is read on the others, a delete and a purge by prefix reach every node, entries expire
// at their TTL everywhere, a member sending a malformed operation is disconnected, and a node holding a
// certificate from another CA is refused both ways.
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { meshTogether, type NodeProcess, startNodeProcess } from '../../examples/mesh-cache/launch.ts';
import { createDevPki } from '../../src/pki/dev.ts';
import { CredentialSource } from '../../src/tls/credential-source.ts';
import { createFramedClient } from '../../src/transport/framed/client.ts';
import { tempDir } from '../support/pki.ts';
import { until } from '../support/reload.ts';
import { silentLogger } from '../support/tls-peers.ts';

describe('examples/mesh-cache: three nodes over framed mTLS', () => {
  const cleanup: (() => unknown)[] = [];
  const nodes: NodeProcess[] = [];
  let a: NodeProcess;
  let b: NodeProcess;
  let c: NodeProcess;
  let dir: string;

  before(async () => {
    dir = await tempDir({ after: (fn) => cleanup.push(fn) }, 'tessera-mesh-');
    const pki = await createDevPki({ out: join(dir, 'mesh'), nodes: ['a', 'b', 'c'] });
    for (const issued of pki.nodes)
      nodes.push(
        await startNodeProcess(issued.name, {
          cert: issued.certPath,
          key: issued.keyPath,
          ca: pki.caCertPath,
        }),
      );
    [a, b, c] = nodes as [NodeProcess, NodeProcess, NodeProcess];
    await meshTogether(nodes);
  });
  after(async () => {
    await Promise.all(nodes.map((node) => node.stop()));
    for (const fn of cleanup) await fn();
  });

  /** Resolves once `node` has applied an op from a peer matching the fields. */
  const applied = (node: NodeProcess, fields: Record<string, unknown>) =>
    node.waitFor(
      (event) =>
        event.event === 'applied' && Object.entries(fields).every(([key, value]) => event[key] === value),
    );

  test('a put on one node is read on the others; a delete reaches every node', async () => {
    assert.equal(await a.command('PUT user:1 0 alice smith'), 'OK');
    await Promise.all([applied(b, { key: 'user:1', op: 'put' }), applied(c, { key: 'user:1', op: 'put' })]);
    assert.equal(await b.command('GET user:1'), 'VALUE alice smith');
    assert.equal(await c.command('GET user:1'), 'VALUE alice smith');
    assert.equal(
      (await b.waitFor((event) => event.event === 'applied' && event.key === 'user:1')).from,
      'spiffe://example.org/node/a',
    );

    assert.equal(await b.command('DEL user:1'), 'OK');
    await Promise.all([
      applied(a, { key: 'user:1', op: 'delete' }),
      applied(c, { key: 'user:1', op: 'delete' }),
    ]);
    for (const node of nodes) assert.equal(await node.command('GET user:1'), 'MISS', `on ${node.name}`);
  });

  test('an entry expires at its TTL on every node', async () => {
    const ttlMs = 5_000;
    const put = Date.now();
    assert.equal(await c.command(`PUT session:9 ${ttlMs} token`), 'OK');
    await Promise.all([applied(a, { key: 'session:9' }), applied(b, { key: 'session:9' })]);
    const seen = await a.command('GET session:9');
    if (Date.now() < put + ttlMs) assert.equal(seen, 'VALUE token', 'visible before it expires');
    for (const node of nodes)
      await until(
        `session:9 to expire on ${node.name}`,
        async () => (await node.command('GET session:9')) === 'MISS',
      );
    assert.ok(Date.now() >= put + ttlMs - 50, 'not gone before its TTL');
  });

  test('a purge by prefix on one node removes the keys under it everywhere, and only those', async () => {
    for (const line of ['PUT p:1 0 one', 'PUT p:2 0 two', 'PUT q:1 0 other'])
      assert.equal(await c.command(line), 'OK');
    await Promise.all([a, b].map((node) => applied(node, { key: 'q:1' })));
    assert.equal(await b.command('PURGE p:'), 'PURGED 2');
    await Promise.all([a, c].map((node) => applied(node, { op: 'purge', prefix: 'p:' })));
    for (const node of nodes) {
      assert.equal(await node.command('GET p:1'), 'MISS', `p:1 on ${node.name}`);
      assert.equal(await node.command('GET p:2'), 'MISS', `p:2 on ${node.name}`);
      assert.equal(await node.command('GET q:1'), 'VALUE other', `q:1 on ${node.name}`);
    }
  });

  test('a peer that sends a frame that is not an operation is disconnected, and the node keeps serving', async (t) => {
    // A real mesh member (b's certificate) turned hostile, speaking the wire through the library client.
    const credentials = await CredentialSource.open({
      certPath: join(dir, 'mesh', 'b.crt'),
      keyPath: join(dir, 'mesh', 'b.key'),
      caPath: join(dir, 'mesh', 'ca.crt'),
      watch: false,
      pollIntervalMs: 0,
      sighup: false,
      logger: silentLogger,
    });
    const client = createFramedClient({ credentials, logger: silentLogger });
    t.after(() => {
      client.close();
      credentials.close();
    });
    const connection = await client.connect({
      host: '127.0.0.1',
      port: a.meshPort,
      expectedUri: 'spiffe://example.org/node/a',
    });
    const seen = a.events.length;
    await connection.send(new TextEncoder().encode('{"op":"put","key":"x","value":42}'));
    await connection.closed;
    const refused = await a.waitFor((event) => event.event === 'op_refused');
    assert.equal(refused.reason, 'bad_value');
    assert.ok(!a.events.slice(seen).some((event) => event.event === 'applied'), 'nothing was applied');
    assert.equal(await a.command('GET x'), 'MISS');
    assert.equal(await a.command('PUT still 0 ok'), 'OK');
    await applied(b, { key: 'still' });
  });

  test('a node with a certificate from another CA is refused both ways, and its writes never land', async () => {
    // Same trust domain and name scheme, another CA. It trusts the mesh CA too, so that it gets as far as
    // presenting its own certificate: the refusal is the mesh node's.
    const other = await createDevPki({ out: join(dir, 'other'), nodes: ['mallory'] });
    const bundle = join(dir, 'mallory-bundle.crt');
    const meshCa = await readFile(join(dir, 'mesh', 'ca.crt'), 'utf8');
    await writeFile(bundle, `${await readFile(other.caCertPath, 'utf8')}${meshCa}`);
    const mallory = await startNodeProcess(
      'mallory',
      { cert: other.nodes[0]!.certPath, key: other.nodes[0]!.keyPath, ca: bundle },
      ['--peer', `a=127.0.0.1:${a.meshPort}`],
    );
    nodes.push(mallory);

    const refused = await a.waitFor((event) => event.event === 'peer_rejected');
    assert.equal(refused.reason, 'cert_untrusted');
    assert.equal(await mallory.command('PUT evil:1 0 payload'), 'OK');
    assert.equal(await mallory.command('GET evil:1'), 'VALUE payload', 'its own cache has it');

    // a dials mallory: a refuses mallory's server certificate before sending anything.
    assert.equal(await a.command(`PEER mallory 127.0.0.1:${mallory.meshPort}`), 'OK');
    const unreachable = await a.waitFor(
      (event) => event.event === 'peer_unreachable' && event.peer === 'mallory',
    );
    assert.equal(unreachable.reason, 'cert_untrusted');

    assert.equal(await a.command('GET evil:1'), 'MISS');
    assert.ok(
      !nodes.some((node) => node.events.some((event) => event.event === 'applied' && event.key === 'evil:1')),
      'no mesh node applied a write from mallory',
    );
    assert.ok(
      !a.events.some(
        (event) => event.event === 'peer_connected' && event.peer === 'spiffe://example.org/node/mallory',
      ),
    );
  });
});
