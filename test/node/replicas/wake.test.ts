// A push wake received by any replica reaches the replica that pulls: the wake travels through the store
// (PostgreSQL NOTIFY). The peer wakes replica a, which cannot take the pull lease (b's turn); b pulls at
// once, although the pull interval is five minutes.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type TestDatabase, testDatabase } from '../../store/postgres-fixtures.ts';
import { fact } from '../../support/node-process.ts';
import { createTestCa } from '../../support/pki.ts';
import { until } from '../../support/reload.ts';
import { addAndApproveUrl, startTlsNode, type TlsNode } from '../../support/tls-node.ts';
import { type Replicas, startReplicas } from './support.ts';

const database = testDatabase();
let db: TestDatabase;
let root: string;
let peer: TlsNode;
let replicas: Replicas;
const pulledBy: string[] = [];

before(async () => {
  db = await database();
  const ca = await createTestCa();
  root = await mkdtemp(join(tmpdir(), 'tessera-wake-'));
  peer = await startTlsNode({ name: 'p', ca, root });
  replicas = await startReplicas(db, {
    ca,
    root,
    env: { TESSERA_FEDERATION_PULL_INTERVAL_S: '300' },
    // The peer knows the node at a's URL: its wakes reach a only.
    beforeB: async (a) => {
      await addAndApproveUrl(peer, a.node.federationUrl);
      await addAndApproveUrl(a, peer.node.federationUrl);
    },
  });
  // a never gets the pull lease (as when another replica holds it); b's is recorded.
  const { a, b } = replicas;
  a.node.store.lease = async () => null;
  const take = b.node.store.lease.bind(b.node.store);
  b.node.store.lease = async (name) => {
    const lease = await take(name);
    if (lease) pulledBy.push('b');
    return lease;
  };
  // Let the start-up cycles (b's first pull) end: from now on only a wake makes b pull before 5 minutes.
  await new Promise((resolve) => setTimeout(resolve, 1000));
});
after(async () => {
  await replicas?.close();
  await peer?.close();
  await rm(root, { recursive: true, force: true });
});

test('a wake sent to one replica makes the pulling replica pull at once', async () => {
  const before = pulledBy.length;
  const started = performance.now();
  const written = await peer.api<{ cid: string }>('POST', '/v1/facts', fact('test:wake/1'));
  assert.equal(written.status, 201, JSON.stringify(written.body));
  await until(
    'the fact reached the node',
    async () => (await db.query('SELECT 1 FROM facts WHERE cid = $1', [written.body.cid])).rowCount === 1,
    { timeoutMs: 10_000 },
  );
  assert.ok(performance.now() - started < 10_000, 'well before the 5-minute interval');
  assert.ok(pulledBy.length > before, 'b pulled (a cannot take the lease)');
  const onB = await replicas.b.api<{ cid: string }>('GET', `/v1/facts/${written.body.cid}`);
  assert.equal(onB.status, 200, 'served by either replica');
});
