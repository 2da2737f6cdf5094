// The database goes away under a running node on PostgreSQL (a proxy in front of the server is cut, as a
// restart or a network loss would): requests answer 503 store_unavailable (never a 500, never the server's
// address), /readyz answers 503 naming the store, and once the database is back the node recovers by
// itself: writes succeed and /readyz is 200 again, without a restart. Nothing acknowledged is lost.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { request } from 'undici';
import { testDatabase } from '../store/postgres-fixtures.ts';
import { fact } from '../support/node-process.ts';
import { createTestCa } from '../support/pki.ts';
import { until } from '../support/reload.ts';
import { type TcpProxy, tcpProxy } from '../support/tcp-proxy.ts';
import { startTlsNode, type TlsNode } from '../support/tls-node.ts';

const database = testDatabase();
let root: string;
let proxy: TcpProxy;
let node: TlsNode;

before(async () => {
  const db = await database();
  const url = new URL(db.url);
  proxy = await tcpProxy({ host: url.hostname || '127.0.0.1', port: Number(url.port || 5432) });
  url.hostname = '127.0.0.1';
  url.port = String(proxy.port);
  root = await mkdtemp(join(tmpdir(), 'tessera-pg-outage-'));
  node = await startTlsNode({
    name: 'a',
    ca: await createTestCa(),
    root,
    env: { TESSERA_DATABASE_URL: url.href, TESSERA_DATABASE_TLS: 'off' },
  });
});
after(async () => {
  await node?.close();
  await proxy?.stop();
  await rm(root, { recursive: true, force: true });
});

const readyz = async () => {
  const response = await request(new URL('/readyz', node.node.apiUrl));
  return { status: response.statusCode, body: JSON.stringify(await response.body.json()) };
};

test('a lost database: 503 store_unavailable and /readyz 503; back again: writes and readiness recover', async () => {
  const before = await node.api<{ cid: string }>('POST', '/v1/facts', fact('test:outage/before'));
  assert.equal(before.status, 201);
  assert.equal((await readyz()).status, 200);

  await proxy.stop();
  const refused = await node.api<{ error: string; detail: string }>(
    'POST',
    '/v1/facts',
    fact('test:outage/during'),
  );
  assert.equal(refused.status, 503, JSON.stringify(refused.body));
  assert.equal(refused.body.error, 'store_unavailable');
  assert.ok(!refused.body.detail.includes(String(proxy.port)), 'the database address is not told to clients');
  const read = await node.api<{ error: string }>('GET', `/v1/facts/${before.body.cid}`);
  assert.equal(read.status, 503);
  assert.equal(read.body.error, 'store_unavailable');
  const notReady = await readyz();
  assert.equal(notReady.status, 503, notReady.body);
  assert.match(notReady.body, /store/);

  await proxy.start();
  const after = await until('a write succeeds again', async () => {
    const written = await node.api<{ cid: string }>('POST', '/v1/facts', fact('test:outage/after'));
    return written.status === 201 ? written : undefined;
  });
  assert.equal((await node.api('GET', `/v1/facts/${after.body.cid}`)).status, 200);
  assert.equal(
    (await node.api('GET', `/v1/facts/${before.body.cid}`)).status,
    200,
    'the acknowledged write is there',
  );
  await until('/readyz is 200 again', async () => ((await readyz()).status === 200 ? true : undefined));
});
