// The database restarts under two replicas of a node (real `tessera serve` processes, on a private
// PostgreSQL over verified mutual TLS) while both take writes: first a fast shutdown, then an immediate one
// (as a crash). Requests in that window answer 503 {"error":"store_unavailable"}, /readyz answers 503 on
// both, and both recover by themselves once the server is back. No acknowledged (201) write is lost and no
// fact is stored twice.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { request } from 'undici';
import type { NodeProcess } from '../../support/node-process.ts';
import { createTestCa } from '../../support/pki.ts';
import {
  type PrivatePostgres,
  postgresBinaries,
  startPrivatePostgres,
} from '../../support/private-postgres.ts';
import { REQUIRE_DB_SERVERS } from '../../support/private-server.ts';
import { type ProcessReplicas, startProcessReplicas } from '../../support/process-replicas.ts';
import { until } from '../../support/reload.ts';
import { startWriteLoad, type WriteLoad } from '../../support/write-load.ts';

const skip = postgresBinaries() || REQUIRE_DB_SERVERS ? false : 'PostgreSQL server binaries not found';

async function readyz(replica: NodeProcess): Promise<{ status: number; body: string }> {
  const response = await request(new URL('/readyz', replica.apiUrl));
  return { status: response.statusCode, body: await response.body.text() };
}

describe('a database restart under two replicas taking writes', { skip, timeout: 120_000 }, () => {
  let root: string;
  let db: PrivatePostgres;
  let node: ProcessReplicas;
  let load: WriteLoad;

  before(async () => {
    const ca = await createTestCa();
    root = await mkdtemp(join(tmpdir(), 'tessera-db-restart-'));
    // Commits wait for the WAL write (not for fsync: the OS does not crash here), so an immediate shutdown
    // keeps every acknowledged commit, as a real server with fsync does across a power loss.
    db = await startPrivatePostgres({
      serverCert: await ca.issue('db-server'),
      clientCaPem: ca.certPem,
      settings: { synchronous_commit: 'on' },
    });
    node = await startProcessReplicas({
      ca,
      root,
      db,
      name: 'n',
      count: 2,
      env: { TESSERA_FEDERATION_PULL_INTERVAL_S: '3600' },
    });
  });
  after(async () => {
    await load?.stop();
    await node?.stop();
    await db?.stop();
    await rm(root, { recursive: true, force: true });
  });

  test('503 store_unavailable and /readyz 503 while it is down; both recover; no acknowledged write lost, none twice', async () => {
    const replicas = node.replicas;
    load = startWriteLoad(replicas, { workers: 6, prefix: 'test:restart' });
    await until(
      'both replicas acknowledge writes',
      () => load.count(0, 201) >= 20 && load.count(1, 201) >= 20,
      {
        timeoutMs: 30_000,
      },
    );
    for (const replica of replicas) assert.equal((await readyz(replica)).status, 200);

    for (const signal of ['SIGINT', 'SIGQUIT'] as const) {
      const down = performance.now();
      await db.down(signal);
      await until(
        `both replicas refuse writes while the database is down (${signal})`,
        () => load.count(0, 503, down) > 0 && load.count(1, 503, down) > 0,
        { timeoutMs: 20_000 },
      );
      for (const replica of replicas) {
        const notReady = await readyz(replica);
        assert.equal(notReady.status, 503, notReady.body);
        assert.match(notReady.body, /"store":"not writable/);
      }
      const up = performance.now();
      await db.up();
      await until(
        `both replicas acknowledge writes again after ${signal}`,
        () => load.count(0, 201, up) >= 5 && load.count(1, 201, up) >= 5,
        { timeoutMs: 30_000 },
      );
      for (const replica of replicas)
        await until(`${replica.name} is ready again`, async () => (await readyz(replica)).status === 200, {
          timeoutMs: 10_000,
        });
    }
    await load.stop();

    const { answers } = load;
    const refused = answers.filter((a) => a.status !== 201);
    assert.ok(refused.length > 0);
    for (const answer of refused) {
      assert.equal(answer.status, 503, JSON.stringify(answer));
      assert.equal(answer.body.error, 'store_unavailable', JSON.stringify(answer));
    }
    const acknowledged = answers.filter((a) => a.status === 201);
    const rows = await db.query<{ entity: string; cid: string }>('SELECT entity, cid FROM n.facts');
    const stored = new Map(rows.map((row) => [row.entity, row.cid]));
    assert.equal(stored.size, rows.length, 'no fact stored twice');
    const lost = acknowledged.filter((a) => stored.get(a.entity) !== a.body.cid);
    assert.deepEqual(lost, [], 'every acknowledged write is stored');
    // And served by both replicas.
    for (const answer of acknowledged.slice(-5))
      for (const replica of replicas)
        assert.equal((await replica.api('GET', `/v1/facts/${answer.body.cid}`)).status, 200);
  });
});
