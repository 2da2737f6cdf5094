// A throwaway database on a PostgreSQL server for the PostgreSQL store tests: one database per test file
// run (random name, dropped when the file ends), one empty schema per store opened in it. The server is the
// machine's own (TESSERA_TEST_POSTGRES_URL overrides): when it is not reachable every test fails with the
// reason, never skips.
import { randomBytes } from 'node:crypto';
import { after } from 'node:test';
import pg from 'pg';
import { MIGRATIONS, VERSION_TABLE } from '../../src/store/postgres/migrations.ts';
import { openPostgresStore, type PostgresStoreOptions } from '../../src/store/postgres/open.ts';
import type { Store, StoreOps } from '../../src/store/store.ts';
import type { OpenStore, StoreHandle } from './contract/index.ts';

export const ADMIN_URL =
  process.env.TESSERA_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export interface TestDatabase {
  name: string;
  /** URL of the test database (the admin URL with its name). */
  url: string;
  /** Runs a statement in the test database (search_path: public). */
  query(text: string, values?: unknown[]): Promise<pg.QueryResult>;
}

/** `url` with its database (path) replaced by `name`. */
export function withDatabase(url: string, name: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${name}`;
  return parsed.toString();
}

/** Runs `work` on a connection to the admin database (not the test database). */
export async function admin<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: ADMIN_URL, connectionTimeoutMillis: 5000 });
  try {
    await client.connect();
  } catch (error) {
    throw new Error(
      `the PostgreSQL server for the store tests is not reachable at ${ADMIN_URL} ` +
        `(${(error as Error).message || String((error as { code?: string }).code)}); ` +
        'start it or set TESSERA_TEST_POSTGRES_URL',
      { cause: error },
    );
  }
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/**
 * The test database of this file, created on first use and dropped (with any connection left) after the
 * file's tests. Call once, at the top level of a test file.
 */
export function testDatabase(): () => Promise<TestDatabase> {
  let created: Promise<{ database: TestDatabase; pool: pg.Pool; name: string }> | undefined;
  after(async () => {
    const made = await created?.catch(() => undefined);
    if (!made) return;
    await made.pool.end();
    await admin((client) => client.query(`DROP DATABASE ${made.name} WITH (FORCE)`));
  });
  return async () => {
    created ??= (async () => {
      const name = `tessera_test_${randomBytes(6).toString('hex')}`;
      await admin((client) => client.query(`CREATE DATABASE ${name}`));
      const url = withDatabase(ADMIN_URL, name);
      const pool = new pg.Pool({ connectionString: url, max: 2 });
      pool.on('error', () => undefined);
      return { name, pool, database: { name, url, query: (text, values) => pool.query(text, values) } };
    })();
    return (await created).database;
  };
}

let schemas = 0;

/** A fresh schema name in the test database. */
export function freshSchema(): string {
  return `store_${++schemas}_${randomBytes(3).toString('hex')}`;
}

export interface PostgresHandle extends StoreHandle {
  schema: string;
  database: TestDatabase;
}

/**
 * Schemas of each test database that were used, then emptied, and wait to be used again: emptying a
 * migrated schema costs a tenth of creating one (the DDL), which dominates a contract test's time.
 */
const emptied = new Map<string, string[]>();

/** Deletes every row (the applied migrations excepted) and restarts the sequences: as good as new. */
async function empty(database: TestDatabase, schema: string): Promise<void> {
  const tables = await database.query(
    'SELECT tablename FROM pg_tables WHERE schemaname = $1 AND tablename <> $2',
    [schema, VERSION_TABLE],
  );
  const sequences = await database.query('SELECT sequencename FROM pg_sequences WHERE schemaname = $1', [
    schema,
  ]);
  await database.query(
    [
      ...tables.rows.map((row) => `DELETE FROM ${schema}.${row.tablename}`),
      `DELETE FROM ${schema}.${VERSION_TABLE} WHERE version > ${MIGRATIONS.length}`,
      ...sequences.rows.map((row) => `ALTER SEQUENCE ${schema}.${row.sequencename} RESTART`),
    ].join('; '),
  );
}

/**
 * Opens a store in an empty schema of the test database (new, or emptied after an earlier test) or of
 * `options.url`; reopen() opens the same schema again; cleanup() closes the store and empties the schema.
 */
export async function tempPostgresStore(
  database: TestDatabase,
  options: Omit<PostgresStoreOptions, 'schema'> = {},
): Promise<PostgresHandle> {
  const spare = emptied.get(database.url) ?? [];
  emptied.set(database.url, spare);
  const schema = spare.pop() ?? freshSchema();
  const open = (): Promise<Store> =>
    openPostgresStore({ poolSize: 4, url: database.url, ...options, schema });
  const handle: PostgresHandle = {
    schema,
    database,
    store: await open(),
    async reopen() {
      await handle.store.close();
      handle.store = await open();
      return handle.store;
    },
    async cleanup() {
      await handle.store.close();
      await empty(database, schema);
      spare.push(schema);
    },
  };
  return handle;
}

/** The contract suite's factory over this file's test database. */
export function postgresStores(database: () => Promise<TestDatabase>): OpenStore {
  return async (options) => tempPostgresStore(await database(), options?.now ? { now: options.now } : {});
}

/** A transaction held open on `store` after `work` ran in it, until release() (call it in a finally). */
export async function heldTransaction(
  store: Store,
  work: (tx: StoreOps) => Promise<void>,
): Promise<{ release(): void; done: Promise<void> }> {
  let release!: () => void;
  const held = new Promise<void>((resolve) => {
    release = resolve;
  });
  let entered!: () => void;
  const inside = new Promise<void>((resolve) => {
    entered = resolve;
  });
  const done = store.tx(async (tx) => {
    await work(tx);
    entered();
    await held;
  });
  // A transaction that fails before it is held must not leave the caller waiting.
  await Promise.race([inside, done]);
  return { release, done };
}
