// Group commit on PostgreSQL: write transactions queued together in one process share one transaction
// (one lock wait, one durable COMMIT), yet each keeps its own outcome. A job that fails undoes only its own
// writes; a result is handed out only once its group committed; a group whose connection is lost fails
// every job in it with nothing stored; single audit appends join groups and still form one chain.
// Which transaction stored a row is read from a column the test adds: DEFAULT pg_current_xact_id() is the
// top-level transaction's id, also inside a savepoint.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { StoreError } from '../../src/store/errors.ts';
import type { AuditEntry } from '../../src/store/ports/audit.ts';
import { openPostgresStore } from '../../src/store/postgres/open.ts';
import { fact, link } from './contract/records.ts';
import { type PostgresHandle, tempPostgresStore, testDatabase } from './postgres-fixtures.ts';

const database = testDatabase();

/** A store whose fact rows record the top-level transaction that inserted them. */
async function store(): Promise<PostgresHandle> {
  const handle = await tempPostgresStore(await database());
  await handle.database.query(
    `ALTER TABLE ${handle.schema}.facts ADD COLUMN IF NOT EXISTS xact xid8 DEFAULT pg_current_xact_id()`,
  );
  return handle;
}

async function rows(handle: PostgresHandle): Promise<{ entity: string; xact: string }[]> {
  const result = await handle.database.query(
    `SELECT entity, xact::text AS xact FROM ${handle.schema}.facts ORDER BY seq`,
  );
  return result.rows as { entity: string; xact: string }[];
}

function assertChain(entries: AuditEntry[], count: number): void {
  assert.equal(entries.length, count);
  entries.forEach((entry, i) => {
    assert.equal(entry.seq, i + 1, 'no gap');
    assert.equal(entry.prev_hash, i === 0 ? '0'.repeat(64) : entries[i - 1]!.hash, `link ${i + 1}`);
  });
}

test('transactions queued together share one transaction; one that fails undoes only its own writes', async () => {
  const t = await store();
  try {
    // Submitted in one tick: they queue together and form one group.
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
    const stored = await rows(t);
    assert.deepEqual(
      stored.map((row) => row.entity),
      [0, 1, 2, 4, 5].map((i) => `test:group/${i}`),
      'in queue order, without the failed job',
    );
    assert.equal(new Set(stored.map((row) => row.xact)).size, 1, 'one transaction for the group');
    const entries = await t.store.auditRange(0, 100);
    assertChain(entries, 5);
    assert.deepEqual(
      entries.map((e) => e.event_type),
      ['job-0', 'job-1', 'job-2', 'job-4', 'job-5'],
    );

    // A transaction started while a group runs waits for the next one.
    let release!: () => void;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const first = t.store.tx(async (tx) => {
      await tx.insertFact(fact({ entity: 'test:group/held' }));
      await held;
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
    const second = t.store.insertFact(fact({ entity: 'test:group/next' }));
    release();
    await Promise.all([first, second]);
    const [held1, next] = (await rows(t)).slice(-2);
    assert.notEqual(held1!.xact, next!.xact, 'a later group');
  } finally {
    await t.cleanup();
  }
});

test('a result is handed out only once its group has committed: another connection sees it at once', async () => {
  const t = await store();
  const db = await database();
  const other = await openPostgresStore({ url: db.url, schema: t.schema, poolSize: 2 });
  try {
    const records = Array.from({ length: 8 }, (_, i) => fact({ entity: `test:visible/${i}` }));
    const seen = await Promise.all(
      records.map(async (record) => {
        await t.store.tx(async (tx) => {
          await tx.insertFact(record);
        });
        return (await other.getFact(record.cid))?.cid;
      }),
    );
    assert.deepEqual(
      seen,
      records.map((r) => r.cid),
    );
  } finally {
    await other.close();
    await t.cleanup();
  }
});

test('a group whose connection is lost fails every job in it, and none of their writes is stored', async () => {
  const t = await store();
  try {
    let release!: () => void;
    const barrier = new Promise<void>((resolve) => {
      release = resolve;
    });
    let entered!: () => void;
    const inside = new Promise<void>((resolve) => {
      entered = resolve;
    });
    const jobs = Array.from({ length: 4 }, (_, i) =>
      t.store.tx(async (tx) => {
        await tx.insertFact(fact({ entity: `test:lost/${i}` }));
        if (i === 1) {
          entered();
          await barrier;
        }
        await tx.appendAudit(link(`lost-${i}`));
      }),
    );
    await inside;
    // The session holding the write lock is the group's.
    await t.database.query(
      `SELECT pg_terminate_backend(pid) FROM pg_locks
       WHERE locktype = 'advisory' AND granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
    );
    release();
    const outcomes = await Promise.allSettled(jobs);
    for (const [i, outcome] of outcomes.entries()) {
      assert.equal(outcome.status, 'rejected', `job ${i}`);
      const reason = (outcome as PromiseRejectedResult).reason;
      assert.ok(reason instanceof StoreError, String(reason));
      assert.equal(reason.code, 'store_unavailable', `job ${i}`);
    }
    assert.deepEqual(await rows(t), [], 'nothing of the group is stored');
    assert.deepEqual(await t.store.auditRange(0, 10), []);
    // The store goes on with a new connection.
    await t.store.tx(async (tx) => {
      await tx.insertFact(fact({ entity: 'test:lost/after' }));
    });
    assert.deepEqual(
      (await rows(t)).map((row) => row.entity),
      ['test:lost/after'],
    );
  } finally {
    await t.cleanup();
  }
});

test('single audit appends join groups: a builder that fails in the middle leaves one valid chain', async () => {
  const t = await store();
  try {
    const outcomes = await Promise.allSettled(
      Array.from({ length: 20 }, (_, i) =>
        t.store.appendAudit((last) => {
          if (i === 7) throw new Error('builder 7 fails');
          return link(`append-${i}`)(last);
        }),
      ),
    );
    assert.equal(outcomes.filter((o) => o.status === 'rejected').length, 1);
    assert.match(String((outcomes[7] as PromiseRejectedResult).reason), /builder 7 fails/);
    const entries = await t.store.auditRange(0, 100);
    assertChain(entries, 19);
    assert.deepEqual(
      entries.map((e) => e.event_type),
      Array.from({ length: 20 }, (_, i) => `append-${i}`).filter((_, i) => i !== 7),
    );
  } finally {
    await t.cleanup();
  }
});

test('inside a group each transaction reads the largest HLC with what the jobs before it inserted', async () => {
  const t = await store();
  try {
    await t.store.insertFact(fact({ hlc: '001763900000000-000000' }));
    const next = (hlc: string | null) =>
      `001763900000000-${String(Number(hlc?.slice(-6)) + 1).padStart(6, '0')}`;
    const seen = await Promise.all(
      Array.from({ length: 5 }, () =>
        t.store.tx(async (tx) => {
          const max = await tx.maxHlc();
          await tx.insertFact(fact({ hlc: next(max) }));
          return max;
        }),
      ),
    );
    assert.deepEqual(
      seen,
      [0, 1, 2, 3, 4].map((n) => `001763900000000-${String(n).padStart(6, '0')}`),
    );
    assert.equal(new Set((await rows(t)).slice(1).map((row) => row.xact)).size, 1, 'one group');
    assert.equal(await t.store.maxHlc(), '001763900000000-000005');
  } finally {
    await t.cleanup();
  }
});

test('appends undone with their savepoint (a failed nested tx, a failed job) are not remembered: no gap', async () => {
  const t = await store();
  try {
    const outcomes = await Promise.allSettled([
      t.store.appendAudit(link('first')),
      t.store.tx(async (tx) => {
        await tx.appendAudit(link('kept'));
        // A nested transaction that appends and then fails: its entry is undone, the outer one goes on.
        await t.store
          .tx(async (inner) => {
            await inner.appendAudit(link('undone-nested'));
            throw new Error('nested fails');
          })
          .catch(() => undefined);
        await tx.appendAudit(link('after-nested'));
      }),
      t.store.tx(async (tx) => {
        await tx.appendAudit(link('undone-job'));
        throw new Error('job fails');
      }),
      t.store.appendAudit(link('last')),
    ]);
    assert.deepEqual(
      outcomes.map((o) => o.status),
      ['fulfilled', 'fulfilled', 'rejected', 'fulfilled'],
    );
    const entries = await t.store.auditRange(0, 100);
    assertChain(entries, 4);
    assert.deepEqual(
      entries.map((e) => e.event_type),
      ['first', 'kept', 'after-nested', 'last'],
    );
  } finally {
    await t.cleanup();
  }
});

test('a job that swallows an error aborting the transaction fails alone; the rest of its group commits', async () => {
  const t = await store();
  try {
    // Text PostgreSQL cannot hold, in an unguarded call: the server aborts the transaction, the caller
    // swallows the error. Alone, its COMMIT would answer ROLLBACK; in a group, only it is undone.
    const swallowing = (entity: string) =>
      t.store.tx(async (tx) => {
        await tx.insertFact(fact({ entity }));
        await tx.setMeta('k', 'nul\u0000byte').catch(() => undefined);
        return 'swallowed';
      });
    const plain = (entity: string) =>
      t.store.tx(async (tx) => {
        await tx.insertFact(fact({ entity }));
        return entity;
      });
    const outcomes = await Promise.allSettled([
      plain('test:abort/0'),
      swallowing('test:abort/1'),
      plain('test:abort/2'),
      swallowing('test:abort/3'),
    ]);
    assert.deepEqual(
      outcomes.map((o) => (o.status === 'fulfilled' ? o.value : String(o.reason))),
      [
        'test:abort/0',
        'Error: the transaction was rolled back: a statement inside it failed',
        'test:abort/2',
        'Error: the transaction was rolled back: a statement inside it failed',
      ],
    );
    const stored = await rows(t);
    assert.deepEqual(
      stored.map((row) => row.entity),
      ['test:abort/0', 'test:abort/2'],
    );
    assert.equal(new Set(stored.map((row) => row.xact)).size, 1, 'one group');
  } finally {
    await t.cleanup();
  }
});
