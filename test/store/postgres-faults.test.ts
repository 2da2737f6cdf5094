// The PostgreSQL store under failures: a call that fails inside a transaction (and is caught) leaves the
// transaction usable, a failure it cannot undo makes the transaction reject instead of half-committing,
// transactions waiting for the write lock never starve the pool, numbers round-trip whatever the server's
// settings, and writable() names the server's refusal (read-only, gone) and recovers when it returns.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import pg from 'pg';
import type { ApiKeyRecord } from '../../src/store/ports/api-keys.ts';
import type { Store } from '../../src/store/store.ts';
import { tcpProxy } from '../support/tcp-proxy.ts';
import { fact, peer } from './contract/records.ts';
import {
  ADMIN_URL,
  admin,
  heldTransaction,
  tempPostgresStore,
  testDatabase,
  withDatabase,
} from './postgres-fixtures.ts';

const database = testDatabase();

const apiKey = (id: string): ApiKeyRecord => ({
  id,
  entityUri: 'spiffe://example.org/client/1',
  permissions: ['read'],
  secretHash: 'scrypt$16384$8$1$c2FsdA$aGFzaA',
  description: null,
  createdAt: '2025-11-23T10:00:00.000Z',
  expiresAt: null,
  revokedAt: null,
});

/** Probes until `done` accepts an answer (at most `tries`); returns every answer seen. */
async function probe(
  store: Store,
  done: (answer: Awaited<ReturnType<Store['writable']>>) => boolean,
  tries = 10,
): Promise<Awaited<ReturnType<Store['writable']>>[]> {
  const answers: Awaited<ReturnType<Store['writable']>>[] = [];
  for (let i = 0; i < tries; i++) {
    const answer = await store.writable();
    answers.push(answer);
    if (done(answer)) return answers;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  assert.fail(`no expected answer in ${tries} probes: ${JSON.stringify(answers)}`);
}

test('refused calls inside a transaction, caught by the caller, undo only themselves; the rest commits', async () => {
  const t = await tempPostgresStore(await database());
  try {
    const p = peer();
    const kept = [fact(), fact(), fact()];
    await t.store.tx(async (tx) => {
      await tx.addApiKey(apiKey('k1'));
      await tx.addPeer(p);
      await tx.insertFact(kept[0]!);
      await assert.rejects(tx.addApiKey(apiKey('k1')), { code: 'api_key_exists' });
      await assert.rejects(tx.addPeer(peer({ entityUri: p.entityUri })), { code: 'peer_exists' });
      await assert.rejects(tx.setPullCursor('nobody', '1'), { code: 'unknown_peer' });
      await assert.rejects(tx.insertFact({ ...fact(), id: kept[0]!.id }), { code: 'id_conflict' });
      await assert.rejects(tx.insertFact(fact({ entity: 'nul\u0000byte' })), { code: 'invalid_record' });
      await tx.insertFact(kept[1]!);
      // Calls in flight together: each one's savepoint stays its own.
      const results = await Promise.allSettled([
        tx.addApiKey(apiKey('k1')),
        tx.insertFact(kept[2]!),
        tx.addPeer(peer({ id: p.id })),
        tx.setPullCursor(p.id, '7'),
        tx.setMeta('k', 'v'),
      ]);
      assert.deepEqual(
        results.map((r) => r.status),
        ['rejected', 'fulfilled', 'rejected', 'fulfilled', 'fulfilled'],
      );
    });
    for (const record of kept) assert.deepEqual(await t.store.getFact(record.id), record);
    assert.equal(await t.store.countFacts(), 3);
    assert.equal((await t.store.listApiKeys()).length, 1);
    assert.equal((await t.store.listPeers()).length, 1);
    assert.equal(await t.store.getPullCursor(p.id), '7');
    assert.equal(await t.store.getMeta('k'), 'v');
  } finally {
    await t.cleanup();
  }
});

test('a lookup by a value holding a NUL character (text PostgreSQL cannot hold) finds nothing, as on SQLite', async () => {
  const t = await tempPostgresStore(await database());
  try {
    await t.store.insertFact(fact({ entity: 'e:1' }));
    const nul = 'e:1\u0000';
    assert.equal(await t.store.getFact(nul), null);
    assert.deepEqual(await t.store.listFacts({ entity: nul }, 10), { facts: [], total: 0, cursor: null });
    assert.equal(await t.store.countFacts({ source: nul }), 0);
    assert.equal(await t.store.getApiKey(nul), null);
    assert.equal(await t.store.getPeer(nul), null);
    assert.equal(await t.store.getPeerByEntityUri(nul), null);
    assert.equal(await t.store.getMeta(nul), null);
    assert.deepEqual(await t.store.listAudit({ principal: nul }, 10), {
      entries: [],
      total: 0,
      cursor: null,
    });
    await t.store.tx(async (tx) => {
      assert.equal(await tx.getFact(nul), null, 'inside a transaction too, which goes on');
      await tx.setMeta('after', 'yes');
    });
    assert.equal(await t.store.getMeta('after'), 'yes');
  } finally {
    await t.cleanup();
  }
});

test('a statement error the store cannot undo alone makes the transaction reject, with nothing committed', async () => {
  const t = await tempPostgresStore(await database());
  try {
    await assert.rejects(
      t.store.tx(async (tx) => {
        await tx.insertFact(fact({ id: 'not-kept' }));
        // Text PostgreSQL cannot hold, in an unguarded call: the server aborts the transaction.
        await tx.setMeta('k', 'nul\u0000byte').catch(() => undefined);
        await tx.setMeta('after', 'x').catch(() => undefined);
        return 'the caller swallowed the errors';
      }),
      /rolled back/,
    );
    assert.equal(await t.store.getFact('not-kept'), null);
    assert.equal(await t.store.getMeta('after'), null);
    await t.store.setMeta('usable', 'yes');
    assert.equal(await t.store.getMeta('usable'), 'yes');
  } finally {
    await t.cleanup();
  }
});

test('transactions waiting for the write lock queue in the process: plain calls still get a connection', async () => {
  const t = await tempPostgresStore(await database(), { poolSize: 2 });
  try {
    const held = await heldTransaction(t.store, (tx) => tx.setMeta('held', 'yes'));
    let queued: Promise<unknown>[] = [];
    try {
      queued = Array.from({ length: 6 }, (_, i) => t.store.tx((tx) => tx.setMeta(`q${i}`, 'done')));
      queued.push(...Array.from({ length: 4 }, () => t.store.insertFact(fact())));
      for (let i = 0; i < 5; i++) assert.equal(await t.store.getMeta('held'), null);
      await t.store.setMeta('plain', 'write');
    } finally {
      held.release();
    }
    await Promise.all([held.done, ...queued]);
    assert.equal(await t.store.getMeta('q5'), 'done');
    assert.equal(await t.store.countFacts(), 4);
  } finally {
    await t.cleanup();
  }
});

test('doubles round-trip exactly even when the server rounds them by default (extra_float_digits=0)', async () => {
  const db = await database();
  const t = await tempPostgresStore(db, { config: { options: '-c extra_float_digits=0' } });
  try {
    const record = fact({ confidence: 0.1 + 0.2 });
    await t.store.insertFact(record);
    assert.deepEqual(await t.store.getFact(record.id), record);
    const rounding = new pg.Client({ connectionString: db.url, options: '-c extra_float_digits=0' });
    await rounding.connect();
    try {
      const { rows } = await rounding.query(`SELECT confidence FROM ${t.schema}.facts`);
      assert.equal(rows[0]?.confidence, 0.3, 'what a connection without the store’s setting reads');
    } finally {
      await rounding.end();
    }
  } finally {
    await t.cleanup();
  }
});

test('writable() names a read-only server (25006) instead of throwing, and is ok again once it takes writes', async () => {
  const db = await database();
  const name = 'tessera_readonly_probe';
  const t = await tempPostgresStore(db, { config: { application_name: name } });
  // New sessions of the database start read-only (as on a standby); the store's are cut so it reconnects.
  const cut = () =>
    admin((client) =>
      client.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1', [
        name,
      ]),
    );
  try {
    await t.store.setMeta('before', 'kept');
    await admin((client) => client.query(`ALTER DATABASE ${db.name} SET default_transaction_read_only = on`));
    try {
      await cut();
      const answers = await probe(t.store, (answer) => !answer.ok && answer.reason.startsWith('25006'));
      for (const answer of answers) assert.equal(answer.ok, false, 'never ok while read-only');
      assert.match(
        JSON.stringify(answers.at(-1)),
        /"reason":"25006: cannot execute INSERT in a read-only transaction"/,
      );
      // A server that cannot take writes is the store's store_unavailable (503 at the node), cause kept.
      await assert.rejects(
        t.store.insertFact(fact()),
        (error: Error & { code?: string; cause?: unknown }) => {
          assert.equal(error.name, 'StoreError');
          assert.equal(error.code, 'store_unavailable');
          assert.equal((error.cause as { code?: string }).code, '25006');
          return true;
        },
      );
    } finally {
      await admin((client) => client.query(`ALTER DATABASE ${db.name} RESET default_transaction_read_only`));
    }
    await cut();
    await probe(t.store, (answer) => answer.ok);
    assert.equal(await t.store.getMeta('before'), 'kept');
  } finally {
    await t.cleanup();
  }
});

test('the server going away: calls reject, writable() says ECONNREFUSED, and the store recovers by itself', async () => {
  const db = await database();
  const server = new URL(ADMIN_URL);
  const proxy = await tcpProxy({ host: server.hostname, port: Number(server.port || 5432) });
  const viaProxy = new URL(withDatabase(ADMIN_URL, db.name));
  viaProxy.port = String(proxy.port);
  const t = await tempPostgresStore(db, { url: viaProxy.toString(), poolSize: 3 });
  try {
    await t.store.setMeta('before', 'kept');
    const held = await heldTransaction(t.store, (tx) => tx.setMeta('in-flight', 'never committed'));
    await proxy.stop();
    held.release();
    await assert.rejects(held.done, 'the COMMIT cannot reach the server');

    const answers = await probe(t.store, (answer) => !answer.ok && answer.reason.startsWith('ECONNREFUSED'));
    for (const answer of answers) assert.equal(answer.ok, false);
    await assert.rejects(t.store.getMeta('before'));
    await assert.rejects(t.store.insertFact(fact()));
    await assert.rejects(t.store.tx((tx) => tx.setMeta('k', 'v')));

    await proxy.start();
    await probe(t.store, (answer) => answer.ok);
    assert.equal(await t.store.getMeta('before'), 'kept', 'what was committed is there');
    assert.equal(await t.store.getMeta('in-flight'), null, 'what was not committed is not');
    const record = fact();
    await t.store.tx((tx) => tx.insertFact(record).then(() => undefined));
    assert.deepEqual(await t.store.getFact(record.id), record);
  } finally {
    await t.cleanup();
    await proxy.stop();
  }
});
