// Opening the PostgreSQL store and its schema: migrations run once when replicas start together (advisory
// lock), a schema written by a newer release is refused, failures to connect are typed and never show the
// password, stores in different schemas of one database do not wait on each other, and former fact ids
// stay findable.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import pg from 'pg';
import { StoreError } from '../../src/store/errors.ts';
import { advisoryLocks } from '../../src/store/postgres/locks.ts';
import { MIGRATIONS, VERSION_TABLE } from '../../src/store/postgres/migrations.ts';
import { openPostgresStore } from '../../src/store/postgres/open.ts';
import { fact } from './contract/records.ts';
import { freshSchema, heldTransaction, tempPostgresStore, testDatabase } from './postgres-fixtures.ts';

const database = testDatabase();

async function versions(query: (text: string) => Promise<pg.QueryResult>, schema: string): Promise<number[]> {
  const { rows } = await query(`SELECT version FROM ${schema}.${VERSION_TABLE} ORDER BY version`);
  return rows.map((row) => row.version as number);
}

test('4 stores opening one empty database together migrate it once; all of them work on the result', async () => {
  const db = await database();
  // The database's default schema (public), as a deployment without the schema option uses it.
  const stores = await Promise.all(
    Array.from({ length: 4 }, () => openPostgresStore({ url: db.url, poolSize: 2 })),
  );
  try {
    assert.deepEqual(
      await versions(db.query, 'public'),
      MIGRATIONS.map((_, i) => i + 1),
    );
    const record = fact();
    await stores[0]!.insertFact(record);
    for (const store of stores) assert.deepEqual(await store.getFact(record.id), record);
  } finally {
    await Promise.all(stores.map((store) => store.close()));
  }
});

test('an open waits while another replica holds the migration lock, then finds the schema migrated', async () => {
  const db = await database();
  const schema = freshSchema();
  const holder = new pg.Client({ connectionString: db.url });
  await holder.connect();
  try {
    await holder.query(`SELECT pg_advisory_lock(${advisoryLocks(schema).migrate})`);
    let opened = false;
    const opening = openPostgresStore({ url: db.url, schema, poolSize: 2 }).then((store) => {
      opened = true;
      return store;
    });
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(opened, false, 'the open waits for the lock');
    await holder.query(`SELECT pg_advisory_unlock(${advisoryLocks(schema).migrate})`);
    const store = await opening;
    try {
      assert.deepEqual(
        await versions(db.query, schema),
        MIGRATIONS.map((_, i) => i + 1),
      );
      assert.equal(await store.countFacts(), 0);
    } finally {
      await store.close();
    }
  } finally {
    await holder.end();
  }
});

test('a schema written by a newer release is refused with schema_too_new and left as it is', async () => {
  const db = await database();
  const t = await tempPostgresStore(db);
  try {
    await t.store.setMeta('kept', 'yes');
    await t.store.close();
    const newer = MIGRATIONS.length + 1;
    await db.query(`INSERT INTO ${t.schema}.${VERSION_TABLE} (version) VALUES (${newer})`);
    await assert.rejects(openPostgresStore({ url: db.url, schema: t.schema }), (error: unknown) => {
      assert.ok(error instanceof StoreError);
      assert.equal(error.code, 'schema_too_new');
      assert.match(error.message, new RegExp(`version ${newer} .* up to ${MIGRATIONS.length}`));
      return true;
    });
    assert.deepEqual(await versions(db.query, t.schema), [...MIGRATIONS.map((_, i) => i + 1), newer]);
    const { rows } = await db.query(`SELECT value FROM ${t.schema}.meta WHERE key = 'kept'`);
    assert.equal(rows[0]?.value, 'yes');
  } finally {
    await t.cleanup();
  }
});

test('an unreachable server is StoreError store_open_failed naming the cause, never the password', async () => {
  await assert.rejects(
    openPostgresStore({ url: 'postgres://tessera:s3cret-pw@127.0.0.1:1/tessera' }),
    (error: unknown) => {
      assert.ok(error instanceof StoreError);
      assert.equal(error.code, 'store_open_failed');
      assert.match(error.message, /127\.0\.0\.1:1\/tessera: ECONNREFUSED/);
      assert.ok(!error.message.includes('s3cret-pw'));
      return true;
    },
  );
});

test('contradictory or malformed options are refused before connecting', async () => {
  const url = 'postgres://tessera@127.0.0.1:1/tessera';
  const cases: [Parameters<typeof openPostgresStore>[0], RegExp][] = [
    [{ url: `${url}?sslmode=verify-full`, ssl: { rejectUnauthorized: true } }, /TLS settings .* not both/],
    [{ url: `${url}?options=-c%20search_path%3Dx` }, /session options go in config.options/],
    [{ url, schema: 'Robert"); DROP' }, /schema must be a lowercase SQL identifier/],
    [{ url, schema: 'pg_catalog' }, /schema must be/],
    [{ url, poolSize: 0 }, /poolSize must be a positive integer/],
  ];
  for (const [options, message] of cases)
    await assert.rejects(openPostgresStore(options), (error: unknown) => {
      assert.ok(error instanceof TypeError, String(error));
      assert.match(error.message, message);
      return true;
    });
});

test('stores in two schemas of one database never wait on each other’s write lock', async () => {
  const db = await database();
  const a = await tempPostgresStore(db);
  const b = await tempPostgresStore(db);
  try {
    const held = await heldTransaction(a.store, async (tx) => {
      await tx.insertFact(fact());
    });
    try {
      await b.store.insertFact(fact());
      assert.equal(await b.store.countFacts(), 1, 'b committed while a holds its transaction open');
    } finally {
      held.release();
    }
    await held.done;
    assert.equal(await a.store.countFacts(), 1);
  } finally {
    await a.cleanup();
    await b.cleanup();
  }
});

test('the schema keeps former fact ids as aliases: getFact finds a fact by one (id and CID first)', async () => {
  const db = await database();
  const t = await tempPostgresStore(db);
  try {
    const record = fact();
    const other = fact();
    await t.store.insertFact(record);
    await t.store.insertFact(other);
    await db.query(`INSERT INTO ${t.schema}.fact_aliases (alias, cid) VALUES ($1, $2), ($3, $4)`, [
      'former-id',
      record.cid,
      other.id,
      record.cid,
    ]);
    assert.deepEqual(await t.store.getFact('former-id'), record);
    assert.deepEqual(await t.store.getFact(other.id), other, 'a current id wins over an alias');
    assert.deepEqual(await t.store.getFact(record.cid), record);
  } finally {
    await t.cleanup();
  }
});
