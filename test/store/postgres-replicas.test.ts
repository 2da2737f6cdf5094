// Two stores on one schema (two pools, as two replicas of a node have): the write lock makes seq order
// commit order across them, so a feed walk running while both insert sees every fact exactly once, and
// audit appends from both extend one gapless chain.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildFactLogAppend } from '../../src/node/features/fact-log/append.ts';
import type { FactRecord, FederationQuery } from '../../src/store/ports/facts.ts';
import { openPostgresStore } from '../../src/store/postgres/open.ts';
import type { Store } from '../../src/store/store.ts';
import { appendAll, referenceRoot, storedRoot } from './contract/fact-log.ts';
import { fact, link, settle } from './contract/records.ts';
import {
  freshSchema,
  heldTransaction,
  type PostgresHandle,
  tempPostgresStore,
  testDatabase,
} from './postgres-fixtures.ts';

const database = testDatabase();

/** Two replicas: the temp store and a second store (its own pool) on the same schema. */
async function replicas(): Promise<{ handle: PostgresHandle; a: Store; b: Store; close(): Promise<void> }> {
  const db = await database();
  const handle = await tempPostgresStore(db);
  const b = await openPostgresStore({ url: db.url, schema: handle.schema, poolSize: 4 });
  return {
    handle,
    a: handle.store,
    b,
    async close() {
      await b.close();
      await handle.cleanup();
    },
  };
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test('a transaction on one replica holds back fact inserts on the other until it commits', async () => {
  const r = await replicas();
  try {
    const first = fact();
    const held = await heldTransaction(r.a, async (tx) => {
      await tx.insertFact(first);
    });
    const second = fact();
    try {
      let done = false;
      const waiting = r.b.insertFact(second).then(() => {
        done = true;
      });
      await pause(200);
      await settle();
      assert.equal(done, false, 'the other replica waits for the write lock');
      assert.equal(await r.b.getMeta('anything'), null, 'reads and other writes do not wait');
      held.release();
      await Promise.all([held.done, waiting]);
    } finally {
      held.release();
    }
    const feed = await r.b.federationPage({ limit: 10, scopes: ['company'] });
    assert.deepEqual(
      feed.facts.map((f) => f.cid),
      [first.cid, second.cid],
      'seq order is commit order',
    );
  } finally {
    await r.close();
  }
});

test('two replicas insert concurrently; a feed walk running meanwhile sees every fact exactly once', async () => {
  const r = await replicas();
  try {
    const written: string[] = [];
    let writing = true;
    /** Single inserts and transactions that pause between inserts, so commits lag behind seq allocation. */
    const writer = async (store: Store, tag: string): Promise<void> => {
      for (let round = 0; round < 30; round++) {
        if (round % 2 === 0)
          await store.tx(async (tx) => {
            for (let i = 0; i < 5; i++) {
              const record = fact();
              await tx.insertFact(record);
              written.push(record.cid);
              await pause(Math.random() * 2);
            }
            await tx.appendAudit(link(`${tag}-tx-${round}`));
          });
        else
          await Promise.all(
            Array.from({ length: 5 }, async () => {
              const record = fact();
              await store.insertFact(record);
              written.push(record.cid);
            }).concat([store.appendAudit(link(`${tag}-plain-${round}`)).then(() => undefined)]),
          );
      }
    };
    const walk = async (): Promise<string[]> => {
      const seen: string[] = [];
      const query: FederationQuery = { limit: 7, scopes: ['company'] };
      let cursor: string | undefined;
      for (let page = 0; ; page++) {
        const finished = !writing;
        // Alternate replicas: cursors mean the same on both.
        const store = page % 2 === 0 ? r.a : r.b;
        const result = await store.federationPage({
          ...query,
          ...(cursor === undefined ? {} : { after: cursor }),
        });
        seen.push(...result.facts.map((f) => f.cid));
        cursor = result.cursor;
        if (!result.more) {
          if (finished) return seen;
          await pause(1);
        }
      }
    };
    const walking = walk();
    try {
      await Promise.all([writer(r.a, 'a'), writer(r.b, 'b')]);
    } finally {
      writing = false;
    }
    const seen = await walking;
    assert.equal(written.length, 2 * 15 * 5 * 2);
    assert.equal(seen.length, written.length, 'every fact once: none skipped, none twice');
    assert.deepEqual(new Set(seen), new Set(written));

    const entries = await r.a.auditRange(0, 1000);
    assert.equal(entries.length, 60);
    entries.forEach((entry, i) => {
      assert.equal(entry.seq, i + 1);
      assert.equal(entry.prev_hash, i === 0 ? '0'.repeat(64) : entries[i - 1]!.hash, `link ${i + 1}`);
    });
    assert.equal(new Set(entries.map((e) => e.event_type)).size, 60);
  } finally {
    await r.close();
  }
});

test('two replicas adding revocations concurrently: a revocation walk running meanwhile sees each once', async () => {
  const r = await replicas();
  try {
    let writing = true;
    const added: string[] = [];
    const writer = async (store: Store, tag: string): Promise<void> => {
      for (let round = 0; round < 20; round++)
        await store.tx(async (tx) => {
          for (let i = 0; i < 3; i++) {
            const id = `${tag}-${round}-${i}`;
            await tx.addRevocation({
              capability_id: id,
              issuer: 'spiffe://example.org/node/a',
              expires_at: '2030-03-01T00:00:00.000Z',
              revoked_at: '2030-01-01T00:00:00.000Z',
              reason: null,
            });
            added.push(id);
            await pause(Math.random() * 2);
          }
        });
    };
    const walk = async (): Promise<string[]> => {
      const seen: string[] = [];
      let cursor: string | undefined;
      for (;;) {
        const finished = !writing;
        const page = await r.b.revocationPage({
          limit: 4,
          ...(cursor === undefined ? {} : { after: cursor }),
        });
        seen.push(...page.revocations.map((x) => x.capability_id));
        cursor = page.cursor;
        if (!page.more) {
          if (finished) return seen;
          await pause(1);
        }
      }
    };
    const walking = walk();
    try {
      await Promise.all([writer(r.a, 'a'), writer(r.b, 'b')]);
    } finally {
      writing = false;
    }
    const seen = await walking;
    assert.equal(seen.length, added.length);
    assert.deepEqual(new Set(seen), new Set(added));
  } finally {
    await r.close();
  }
});

test('a replica idle inside its transaction is cut by the server, releasing the write lock for the others', async () => {
  const db = await database();
  const stuck = await tempPostgresStore(db, {
    config: { options: '-c idle_in_transaction_session_timeout=300' },
  });
  const other = await openPostgresStore({ url: db.url, schema: stuck.schema, poolSize: 2 });
  try {
    const held = await heldTransaction(stuck.store, async (tx) => {
      await tx.insertFact(fact({ id: 'never-committed' }));
    });
    try {
      const record = fact();
      await other.insertFact(record);
      assert.deepEqual(
        await other.getFact(record.id),
        record,
        'the other replica wrote once the server cut it',
      );
    } finally {
      held.release();
    }
    await assert.rejects(held.done);
    assert.equal(await other.getFact('never-committed'), null);
    await stuck.store.setMeta('recovered', 'yes');
    assert.equal(await other.getMeta('recovered'), 'yes');
  } finally {
    await other.close();
    await stuck.cleanup();
  }
});

test('a lease is held by one replica at a time, released on release() and when the holder closes', async () => {
  const { a, b, close } = await replicas();
  try {
    const first = await a.lease('pull:x');
    assert.ok(first, 'a takes the free lease');
    assert.equal(await a.lease('pull:x'), null, 'not twice in one process');
    assert.equal(await b.lease('pull:x'), null, 'not by another replica');
    const other = await b.lease('pull:y');
    assert.ok(other, 'another name is another lease');
    await other.release();
    await first.release();
    const second = await b.lease('pull:x');
    assert.ok(second, 'free again once released');
    await b.close();
    // The holder went away: the server ended its session, and its locks with it.
    const third = await a.lease('pull:x');
    assert.ok(third, 'taken over once the holder closed');
    await third.release();
  } finally {
    await close();
  }
});

test('notify reaches the subscribers of every replica, and a subscription survives its connection being killed (told it may have missed some)', async () => {
  const { handle, a, b, close } = await replicas();
  try {
    const heard: string[] = [];
    let missed = 0;
    const stop = b.subscribe(
      'pull_wake',
      (payload) => heard.push(`b:${payload}`),
      () => missed++,
    );
    a.subscribe('pull_wake', (payload) => heard.push(`a:${payload}`));
    const other = await openPostgresStore({
      url: handle.database.url,
      schema: freshSchema(),
      poolSize: 1,
    });
    await pause(300); // LISTEN is issued in the background
    await a.notify('pull_wake', 'peer-1');
    for (let i = 0; i < 40 && heard.length < 2; i++) await pause(25);
    assert.deepEqual(heard.sort(), ['a:peer-1', 'b:peer-1']);
    // Another schema's store never hears this one's channels.
    const elsewhere: string[] = [];
    other.subscribe('pull_wake', (payload) => elsewhere.push(payload));
    await pause(300);
    await a.notify('pull_wake', 'peer-2');
    await pause(300);
    assert.deepEqual(elsewhere, []);
    await other.close();
    for (let i = 0; i < 40 && heard.length < 4; i++) await pause(25);
    assert.deepEqual(heard.sort(), ['a:peer-1', 'a:peer-2', 'b:peer-1', 'b:peer-2']);
    heard.length = 0;
    // The server ends b's listening session: b connects again and listens again by itself.
    const killed = await handle.database.query(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN%' AND pid <> pg_backend_pid()",
    );
    assert.ok((killed.rowCount ?? 0) >= 2, 'both listening sessions ended');
    await pause(1800);
    await a.notify('pull_wake', 'peer-3');
    for (let i = 0; i < 40 && heard.length < 2; i++) await pause(25);
    assert.deepEqual(heard.sort(), ['a:peer-3', 'b:peer-3']);
    assert.equal(missed, 1, 'b was told it may have missed notifications while reconnecting');
    stop();
  } finally {
    await close();
  }
});

test('two replicas inserting and extending the fact log at once build one tree, the same read from either', async () => {
  const r = await replicas();
  try {
    let writing = true;
    const writer = async (store: Store): Promise<void> => {
      for (let round = 0; round < 10; round++)
        await store.tx(async (tx) => {
          for (let i = 0; i < 3; i++) {
            await tx.insertFact(fact());
            await pause(Math.random() * 2);
          }
        });
    };
    const appender = async (store: Store): Promise<void> => {
      while (writing) await store.appendFactLog(4, buildFactLogAppend);
    };
    const appending = [appender(r.a), appender(r.b)];
    try {
      await Promise.all([writer(r.a), writer(r.b)]);
    } finally {
      writing = false;
    }
    await Promise.all(appending);
    await Promise.all([appendAll(r.a), appendAll(r.b)]);

    // Insertion (seq) order, as a feed walk reads it: the log's order must be exactly this.
    const stored: FactRecord[] = [];
    for (let cursor: string | null | undefined; cursor !== null; ) {
      const page = await r.a.listFacts({}, 50, cursor);
      stored.push(...page.facts);
      cursor = page.cursor;
    }
    assert.equal(stored.length, 60);
    const cids = stored.map((f) => f.cid);
    const [onA, onB] = await Promise.all([r.a.factLogIndexes(cids), r.b.factLogIndexes(cids)]);
    assert.deepEqual(
      cids.map((cid) => onA.get(cid)),
      cids.map((_, i) => i),
      'dense, in insertion order',
    );
    assert.deepEqual(onB, onA);
    const [headA, headB] = await Promise.all([r.a.factLogHead(), r.b.factLogHead()]);
    assert.deepEqual(headB, headA);
    assert.equal(await storedRoot(r.a, 60), referenceRoot(stored));
    assert.equal(await storedRoot(r.b, 60), referenceRoot(stored));
  } finally {
    await r.close();
  }
});
