// Two replicas of one node on PostgreSQL stamp the node's facts with HLCs that are unique and increasing
// across both: each local write is stamped under the store's write lock above every HLC stored, so even a
// replica whose wall clock lags stamps above what the other wrote.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type TestDatabase, testDatabase } from '../../store/postgres-fixtures.ts';
import { fact } from '../../support/node-process.ts';
import { type Replicas, startReplicas } from './support.ts';

const database = testDatabase();
const LAG_MS = 20_000;
let db: TestDatabase;
let replicas: Replicas;

before(async () => {
  db = await database();
  // b's wall clock is 20 s behind a's: alone, its clock would stamp below what a stored.
  replicas = await startReplicas(db, { clockB: () => new Date(Date.now() - LAG_MS) });
});
after(() => replicas?.close());

test('concurrent writes on two replicas get distinct HLCs, and a lagging replica stamps above what the other stored', async () => {
  const { a, b } = replicas;
  const first = await a.api<{ hlc: string }>('POST', '/v1/facts', fact('test:hlc/first'));
  assert.equal(first.status, 201, JSON.stringify(first.body));
  // b's next write comes after a's in real time: its HLC must be greater, whatever b's wall clock says.
  const next = await b.api<{ hlc: string }>('POST', '/v1/facts', fact('test:hlc/next'));
  assert.equal(next.status, 201, JSON.stringify(next.body));
  assert.ok(next.body.hlc > first.body.hlc, `${next.body.hlc} must be above ${first.body.hlc}`);

  const writes = await Promise.all(
    Array.from({ length: 60 }, (_, i) =>
      (i % 2 ? a : b).api<{ hlc: string }>('POST', '/v1/facts', fact(`test:hlc/${i}`)),
    ),
  );
  for (const write of writes) assert.equal(write.status, 201, JSON.stringify(write.body));
  const { rows } = await db.query(
    'SELECT count(*)::int AS n, count(DISTINCT hlc)::int AS distinct_hlcs, max(hlc) AS max FROM facts WHERE origin_node_id = $1',
    [a.entityUri],
  );
  assert.deepEqual(
    { n: rows[0].n, distinct: rows[0].distinct_hlcs },
    { n: 62, distinct: 62 },
    'no two facts of the node share an HLC',
  );
  // Stored order (seq) is HLC order: every replica stamped above everything committed before it.
  const ordered = await db.query('SELECT hlc FROM facts WHERE origin_node_id = $1 ORDER BY seq', [
    a.entityUri,
  ]);
  const hlcs = ordered.rows.map((row) => row.hlc as string);
  assert.deepEqual(hlcs, [...hlcs].sort(), 'HLCs increase with insertion order across replicas');
});
