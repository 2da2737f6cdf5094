// Exactly one replica of a node pulls from a given peer at a time: a cycle runs only under the peer's lease
// (a PostgreSQL session advisory lock), a replica that cannot take it skips that cycle, and when the
// holder goes away the other takes over at its next interval. The node converges exactly. (The peer knows
// the node at a's URL, so its wakes stop when a goes away; the survivor's interval still brings the rest.)
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Lease, Store } from '../../../src/store/store.ts';
import { type TestDatabase, testDatabase } from '../../store/postgres-fixtures.ts';
import { fact } from '../../support/node-process.ts';
import { createTestCa, type TestCa } from '../../support/pki.ts';
import { until } from '../../support/reload.ts';
import { addAndApproveUrl, startTlsNode, type TlsNode } from '../../support/tls-node.ts';
import { type Replicas, startReplicas } from './support.ts';

const database = testDatabase();
let db: TestDatabase;
let ca: TestCa;
let root: string;
let peer: TlsNode;
let replicas: Replicas;

interface Held {
  replica: string;
  from: number;
  to: number;
}
const held: Held[] = [];
const refused: Record<string, number> = {};

/** Records when `replica` held a pull lease (and how often it was refused one). */
function recordLeases(store: Store, replica: string): void {
  const take = store.lease.bind(store);
  store.lease = async (name: string): Promise<Lease | null> => {
    const lease = await take(name);
    if (!name.startsWith('pull:')) return lease;
    if (!lease) {
      refused[replica] = (refused[replica] ?? 0) + 1;
      return null;
    }
    const entry: Held = { replica, from: performance.now(), to: Number.POSITIVE_INFINITY };
    held.push(entry);
    return {
      release: async () => {
        entry.to = performance.now();
        await lease.release();
      },
    };
  };
}

async function writeOnPeer(from: number, count: number): Promise<void> {
  for (let i = from; i < from + count; i += 25)
    await Promise.all(
      Array.from({ length: Math.min(25, from + count - i) }, async (_, j) => {
        const written = await peer.api('POST', '/v1/facts', fact(`test:lease/${i + j}`));
        assert.equal(written.status, 201, JSON.stringify(written.body));
      }),
    );
}

async function fromPeer(): Promise<{ n: number; cids: number }> {
  const { rows } = await db.query(
    'SELECT count(*)::int AS n, count(DISTINCT cid)::int AS cids FROM facts WHERE origin_node_id = $1',
    [peer.entityUri],
  );
  return rows[0] as { n: number; cids: number };
}

before(async () => {
  db = await database();
  ca = await createTestCa();
  root = await mkdtemp(join(tmpdir(), 'tessera-lease-'));
  peer = await startTlsNode({ name: 'p', ca, root });
  replicas = await startReplicas(db, {
    ca,
    root,
    // One page per cycle and a short interval: many cycles, both replicas trying every 200 ms.
    env: { TESSERA_FEDERATION_PULL_INTERVAL_S: '0.2', TESSERA_FEDERATION_MAX_PAGES_PER_CYCLE: '1' },
    beforeB: async (a) => {
      await addAndApproveUrl(peer, a.node.federationUrl);
      await addAndApproveUrl(a, peer.node.federationUrl);
    },
  });
  recordLeases(replicas.a.node.store, 'a');
  recordLeases(replicas.b.node.store, 'b');
});
after(async () => {
  await replicas?.close();
  await peer?.close();
  await rm(root, { recursive: true, force: true });
});

test('one replica pulls from a peer at a time; when it goes away the other takes over; the node converges exactly', async () => {
  await writeOnPeer(0, 1500);
  await until('the node pulled part of the feed', async () => (await fromPeer()).n >= 500, {
    timeoutMs: 30_000,
  });
  // The replica that pulled last goes away (closing drains its cycle, then ends its session).
  const holder: 'a' | 'b' = held.at(-1)?.replica === 'b' ? 'b' : 'a';
  const survivor = holder === 'a' ? 'b' : 'a';
  const closedAt = performance.now();
  await replicas[holder].close();
  // Written after the holder is gone: only the other replica can bring these in.
  await writeOnPeer(1500, 1000);
  await until('the other replica pulled the rest', async () => (await fromPeer()).n >= 2500, {
    timeoutMs: 60_000,
  });
  await new Promise((resolve) => setTimeout(resolve, 500));
  assert.deepEqual(await fromPeer(), { n: 2500, cids: 2500 }, 'every fact once, none twice');

  for (const one of held)
    for (const other of held)
      if (one.replica !== other.replica)
        assert.ok(
          one.to <= other.from || other.to <= one.from,
          `replica ${one.replica} and replica ${other.replica} pulled from the peer at the same time`,
        );
  assert.ok(
    held.some((entry) => entry.replica === survivor && entry.from > closedAt),
    `${survivor} took over once ${holder} was gone`,
  );
  assert.ok((refused.a ?? 0) + (refused.b ?? 0) > 0, 'a replica skipped a cycle another one held');
});
