// Group commit on SQLite: writes and transactions that arrive together share one BEGIN … COMMIT (one
// fsync), yet each keeps its own outcome: a member that fails undoes only its own writes, the chain of audit
// appends stays one chain, and a caller is answered only once the COMMIT is done (a second connection sees
// the row at once). A lone write still commits by itself, without waiting for company.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import type { AuditEntry } from '../../src/store/ports/audit.ts';
import type { SqliteStore } from '../../src/store/sqlite/store.ts';
import type { Store } from '../../src/store/store.ts';
import { fact, link } from './contract/records.ts';
import { tempStore } from './fixtures.ts';

/** The SQLite store's group-commit counters (openSqliteStore returns a SqliteStore). */
function statsOf(store: Store): { transactions: number; commits: number } {
  return (store as SqliteStore).commitStats;
}

function assertChain(entries: AuditEntry[], count: number): void {
  assert.equal(entries.length, count);
  entries.forEach((entry, i) => {
    assert.equal(entry.seq, i + 1, 'no gap');
    assert.equal(entry.prev_hash, i === 0 ? '0'.repeat(64) : entries[i - 1]!.hash, `link ${i + 1}`);
  });
}

test('transactions queued together share one COMMIT; one that fails undoes only its own writes', async () => {
  const t = await tempStore();
  try {
    const before = statsOf(t.store);
    const outcomes = await Promise.allSettled(
      Array.from({ length: 6 }, (_, i) =>
        t.store.tx(async (tx) => {
          await tx.insertFact(fact({ entity: `test:group/${i}` }));
          await tx.appendAudit(link(`job-${i}`));
          if (i === 3) throw new Error('job 3 changes its mind');
          return i;
        }),
      ),
    );
    assert.deepEqual(
      outcomes.map((o) => (o.status === 'fulfilled' ? o.value : (o.reason as Error).message)),
      [0, 1, 2, 'job 3 changes its mind', 4, 5],
    );
    const after = statsOf(t.store);
    assert.equal(after.transactions - before.transactions, 5, 'five committed');
    assert.equal(after.commits - before.commits, 1, 'one COMMIT for the group');
    const stored = await t.store.listFacts({}, 100);
    assert.deepEqual(
      stored.facts.map((f) => f.entity),
      [0, 1, 2, 4, 5].map((i) => `test:group/${i}`),
      'in queue order, without the failed job',
    );
    const entries = await t.store.auditRange(0, 100);
    assertChain(entries, 5);
    assert.deepEqual(
      entries.map((e) => e.event_type),
      ['job-0', 'job-1', 'job-2', 'job-4', 'job-5'],
    );
  } finally {
    await t.cleanup();
  }
});

test('single writes arriving together share a COMMIT; a write arriving later commits in a later group', async () => {
  const t = await tempStore();
  try {
    const before = statsOf(t.store);
    const records = Array.from({ length: 20 }, (_, i) => fact({ entity: `test:burst/${i}` }));
    const results = await Promise.all(records.map((record) => t.store.insertFact(record)));
    assert.ok(results.every((r) => r.inserted));
    const burst = statsOf(t.store);
    assert.equal(burst.transactions - before.transactions, 20);
    assert.equal(burst.commits - before.commits, 1, 'one COMMIT for 20 writes that arrived together');

    // Alone: commits by itself, at once.
    await t.store.insertFact(fact({ entity: 'test:burst/alone' }));
    assert.equal(statsOf(t.store).commits - burst.commits, 1);
  } finally {
    await t.cleanup();
  }
});

test('a caller is answered only after its group committed: another connection sees the row at once', async () => {
  const t = await tempStore();
  const other = new Database(t.file, { readonly: true });
  try {
    const records = Array.from({ length: 8 }, (_, i) => fact({ entity: `test:visible/${i}` }));
    const seen = await Promise.all(
      records.map(async (record) => {
        await t.store.insertFact(record);
        return other.prepare('SELECT cid FROM facts WHERE cid = ?').pluck().get(record.cid);
      }),
    );
    assert.deepEqual(
      seen,
      records.map((r) => r.cid),
    );
  } finally {
    other.close();
    await t.cleanup();
  }
});

test('a write refused by the store fails alone; the others in its group are stored', async () => {
  const t = await tempStore();
  try {
    const squatter = fact({ entity: 'test:squat/a' });
    await t.store.insertFact(squatter);
    const other = fact({ entity: 'test:squat/b' });
    const outcomes = await Promise.allSettled([
      t.store.insertFact(fact({ entity: 'test:squat/1' })),
      // Another content under a stored id: id_conflict.
      t.store.insertFact({ ...other, id: squatter.id }),
      t.store.insertFact(fact({ entity: 'test:squat/2' })),
    ]);
    assert.equal(outcomes[0]?.status, 'fulfilled');
    assert.equal(outcomes[1]?.status, 'rejected');
    assert.equal((outcomes[1] as PromiseRejectedResult).reason.code, 'id_conflict');
    assert.equal(outcomes[2]?.status, 'fulfilled');
    const entities = (await t.store.listFacts({}, 10)).facts.map((f) => f.entity);
    assert.deepEqual(entities, ['test:squat/a', 'test:squat/1', 'test:squat/2']);
  } finally {
    await t.cleanup();
  }
});

test('writes accepted before close() are committed, not refused', async () => {
  const t = await tempStore();
  const file = t.file;
  const writes = Array.from({ length: 5 }, (_, i) => t.store.insertFact(fact({ entity: `test:close/${i}` })));
  const closing = t.store.close();
  await Promise.all(writes);
  await closing;
  const db = new Database(file, { readonly: true });
  try {
    assert.equal(db.prepare("SELECT count(*) FROM facts WHERE entity LIKE 'test:close/%'").pluck().get(), 5);
  } finally {
    db.close();
    await t.cleanup();
  }
});
