// kill -9 of the replica that is pulling from a peer, in the middle of the feed: two replicas of a node
// (real `tessera serve` processes on a private PostgreSQL over verified mutual TLS) pull 10k facts from a
// peer; the one holding the peer's lease is killed with SIGKILL while it replicates. Its session ends with
// the process, the server releases the lease, the other replica takes the lease at its next interval and
// finishes: the node then holds exactly the peer's facts (row count and distinct CIDs equal the peer's),
// and only whole pages were ever committed.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { request } from 'undici';
import { addAndApprove, type NodeProcess, startNodeProcess } from '../../support/node-process.ts';
import { createTestCa, testUri } from '../../support/pki.ts';
import {
  type PrivatePostgres,
  postgresBinaries,
  startPrivatePostgres,
} from '../../support/private-postgres.ts';
import { REQUIRE_DB_SERVERS } from '../../support/private-server.ts';
import { type ProcessReplicas, startProcessReplicas } from '../../support/process-replicas.ts';
import { until } from '../../support/reload.ts';
import { seedFacts } from '../../support/seed.ts';

const skip = postgresBinaries() || REQUIRE_DB_SERVERS ? false : 'PostgreSQL server binaries not found';
const TOTAL = 10_000;
const PAGE = 500;

/** The replica's count of facts it replicated from `peer` (its /metrics). */
async function replicated(replica: NodeProcess, peer: string): Promise<number> {
  const response = await request(new URL('/metrics', replica.apiUrl));
  const text = await response.body.text();
  const line = text.split('\n').find((l) => l.startsWith(`tessera_facts_replicated_total{peer="${peer}"}`));
  return line ? Number(line.split(' ').at(-1)) : 0;
}

describe('kill -9 of the pulling replica mid-feed', { skip, timeout: 150_000 }, () => {
  let root: string;
  let db: PrivatePostgres;
  let source: NodeProcess;
  let node: ProcessReplicas;

  before(async () => {
    const ca = await createTestCa();
    root = await mkdtemp(join(tmpdir(), 'tessera-puller-kill-'));
    db = await startPrivatePostgres({ serverCert: await ca.issue('db-server'), clientCaPem: ca.certPem });
    await seedFacts(join(root, 'source'), testUri('source'), TOTAL);
    [source, node] = await Promise.all([
      startNodeProcess({ name: 'source', ca, root, env: { TESSERA_FEDERATION_PULL_INTERVAL_S: '3600' } }),
      // Both replicas try to pull every second; only the lease holder does.
      startProcessReplicas({
        ca,
        root,
        db,
        name: 'n',
        count: 2,
        env: { TESSERA_FEDERATION_PULL_INTERVAL_S: '1' },
      }),
    ]);
  });
  after(async () => {
    await node?.stop();
    await source?.stop();
    await db?.stop();
    await rm(root, { recursive: true, force: true });
  });

  const stored = async () =>
    (
      await db.query<{ n: number; cids: number }>(
        'SELECT count(*)::int AS n, count(DISTINCT cid)::int AS cids FROM n.facts WHERE origin_node_id = $1',
        [source.entityUri],
      )
    )[0]!;

  test('the other replica takes over and the node converges exactly to the peer', async () => {
    const [first, second] = node.replicas as [NodeProcess, NodeProcess];
    await addAndApprove(source, first);
    // Approved through the first replica: the second reads the approval from the database; both try.
    await addAndApprove(first, source);
    const puller = await until(
      'a replica to be part-way through the feed',
      async () => {
        const { n } = await stored();
        if (n < 2 * PAGE || n > TOTAL - 4 * PAGE) return undefined;
        const counts = await Promise.all([first, second].map((r) => replicated(r, source.entityUri)));
        return counts[0]! > 0 ? first : counts[1]! > 0 ? second : undefined;
      },
      { timeoutMs: 90_000, intervalMs: 5 },
    );
    const survivor = puller === first ? second : first;
    assert.equal(await replicated(survivor, source.entityUri), 0, 'one replica pulled until now');
    await puller.kill9();
    const afterKill = await stored();
    assert.ok(afterKill.n < TOTAL, `killed mid-feed (${afterKill.n} of ${TOTAL})`);
    assert.equal(afterKill.n % PAGE, 0, 'only whole pages were committed');

    await until('the survivor to finish the feed', async () => (await stored()).n >= TOTAL, {
      timeoutMs: 90_000,
      intervalMs: 100,
    });
    assert.ok((await replicated(survivor, source.entityUri)) > 0, 'the survivor took over');

    const peerDb = new Database(join(source.dataDir, 'tessera.db'), { readonly: true });
    const peerCids = (peerDb.prepare('SELECT cid FROM facts').all() as { cid: string }[]).map((r) => r.cid);
    peerDb.close();
    const nodeCids = (
      await db.query<{ cid: string }>('SELECT cid FROM n.facts WHERE origin_node_id = $1', [source.entityUri])
    ).map((r) => r.cid);
    assert.deepEqual(
      await stored(),
      { n: peerCids.length, cids: new Set(peerCids).size },
      'as many as the peer',
    );
    assert.deepEqual(new Set(nodeCids), new Set(peerCids), "exactly the peer's facts");
  });
});
