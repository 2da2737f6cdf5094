// The audit log of a node whose two replicas write at the same time stays one hash chain: every entry
// appended on either replica (fact writes, API key changes) is in it once, seqs without a gap, each
// linked to the one before; and `tessera audit verify`, run with the settings the replicas run with, reads
// that database and passes. It is the real check: an entry edited in the database afterwards fails it.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type TestDatabase, testDatabase } from '../../store/postgres-fixtures.ts';
import { runCli } from '../../support/child.ts';
import { fact } from '../../support/node-process.ts';
import type { TlsNode } from '../../support/tls-node.ts';
import { type Replicas, startReplicas } from './support.ts';

const database = testDatabase();
const WRITERS_PER_REPLICA = 6;
const WRITES_PER_WRITER = 25;
let db: TestDatabase;
let replicas: Replicas;

before(async () => {
  db = await database();
  replicas = await startReplicas(db);
});
after(() => replicas?.close());

/** `tessera audit verify --json` with the replica's own settings (its data dir, database URL and TLS). */
async function verifyWithCli(replica: TlsNode) {
  const run = await runCli(['audit', 'verify', '--json', '--data-dir', replica.dataDir], {
    env: replica.identity.env,
  });
  return { code: run.code, stderr: run.stderr, result: run.stdout ? JSON.parse(run.stdout) : null };
}

test('concurrent writers on both replicas extend one valid audit chain, and tessera audit verify passes', async () => {
  const { a, b } = replicas;
  const written: string[] = [];
  const writer = async (replica: TlsNode, tag: string): Promise<void> => {
    for (let i = 0; i < WRITES_PER_WRITER; i++) {
      const response = await replica.api<{ cid: string }>(
        'POST',
        '/v1/facts',
        fact(`test:audit/${tag}/${i}`),
      );
      assert.equal(response.status, 201, JSON.stringify(response.body));
      written.push(response.body.cid);
      // Other audited actions in between, on the same chain.
      if (i % 10 === 0) {
        const key = await replica.api<{ id: string }>('POST', '/v1/admin/api-keys', {
          entity_uri: `spiffe://test.example/client/${tag}-${i}`,
          permissions: ['read'],
        });
        assert.equal(key.status, 201, JSON.stringify(key.body));
      }
    }
  };
  await Promise.all(
    [a, b].flatMap((replica) =>
      Array.from({ length: WRITERS_PER_REPLICA }, (_, w) => writer(replica, `${replica.name}-${w}`)),
    ),
  );
  const total = 2 * WRITERS_PER_REPLICA * WRITES_PER_WRITER;
  assert.equal(written.length, total);

  const { rows } = await db.query(
    'SELECT seq, event_type, detail, prev_hash, hash FROM audit_log ORDER BY seq',
  );
  rows.forEach((row, i) => {
    assert.equal(Number(row.seq), i + 1, 'seqs without a gap');
    assert.equal(
      row.prev_hash,
      i === 0 ? '0'.repeat(64) : rows[i - 1].hash,
      `entry ${i + 1} links to the one before`,
    );
  });
  const factEntries = rows.filter((row) => row.event_type === 'fact_write');
  assert.deepEqual(
    factEntries.map((row) => JSON.parse(row.detail).cid).sort(),
    [...written].sort(),
    'one entry per write, from both replicas',
  );
  assert.equal(
    rows.filter((row) => row.event_type === 'api_key_created').length,
    2 * WRITERS_PER_REPLICA * 3,
  );

  for (const replica of [a, b]) {
    const verified = await verifyWithCli(replica);
    assert.equal(verified.code, 0, verified.stderr);
    assert.equal(verified.result.ok, true);
    assert.equal(verified.result.count, rows.length, 'every entry checked');
  }

  // The same command on an entry edited in the database: it names the entry.
  const edited = Math.ceil(rows.length / 2);
  await db.query(`UPDATE audit_log SET detail = '{"cid":"forged"}' WHERE seq = $1`, [edited]);
  const broken = await verifyWithCli(b);
  assert.equal(broken.code, 1, broken.stderr);
  assert.equal(broken.result.ok, false);
  assert.equal(broken.result.first_bad_seq, edited);
  assert.equal(broken.result.reason, 'hash_mismatch');
});
