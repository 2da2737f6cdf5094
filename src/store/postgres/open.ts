// The one place that creates a PostgreSQL pool for a Store: connection settings, TLS as the caller gives
// it, the session settings every connection needs, and the schema migration. Nothing here logs: failures
// are typed errors, and no message ever contains a password.
import type { ConnectionOptions } from 'node:tls';
import pg, { type PoolClient, type PoolConfig } from 'pg';
import { StoreError } from '../errors.ts';
import type { Store } from '../store.ts';
import { describeFailure } from './failures.ts';
import { advisoryLocks } from './locks.ts';
import { migrate } from './migrations.ts';
import { postgresStore } from './store.ts';

/** How openPostgresStore connects: where, with which TLS, how many connections, in which schema. */
export interface PostgresStoreOptions {
  /**
   * `postgres://user[:password]@host[:port]/database`. The fields it names win over `config`'s. TLS goes
   * in `ssl`, never in the URL as well (pg lets URL parameters replace the ssl object silently).
   */
  url?: string;
  /** Further pg settings (host, port, user, password, database, timeouts, …); see `url`. */
  config?: Omit<PoolConfig, 'connectionString' | 'ssl' | 'max'>;
  /** TLS options for the connection (e.g. from the database-TLS helpers); false or absent: no TLS. */
  ssl?: ConnectionOptions | false;
  /** Called with the pool once it exists (e.g. to recycle connections after a certificate rotation). */
  onPool?: (pool: pg.Pool) => void;
  /** Connections in the pool (default 10). A transaction holds one for its whole duration. */
  poolSize?: number;
  /**
   * The schema that holds Tessera's tables, created if missing (lowercase letters, digits, `_`). Default:
   * the connection's current schema (usually `public`).
   */
  schema?: string;
  /** Clock for `updatedAt` of peers updated without one; default the system clock. */
  now?: () => Date;
}

const IDLE_IN_TRANSACTION_MS = 60_000;
const SCHEMA_NAME = /^(?!pg_)[a-z_][a-z0-9_]{0,62}$/;
const ignore = (): void => undefined;

/** The URL's query keys, or none when it is not a URL WHATWG can parse (pg then parses it alone). */
function urlParameters(url: string): string[] {
  try {
    return [...new URL(url).searchParams.keys()];
  } catch {
    return [];
  }
}

function poolConfig(options: PostgresStoreOptions): PoolConfig {
  const poolSize = options.poolSize ?? 10;
  if (!Number.isSafeInteger(poolSize) || poolSize < 1)
    throw new TypeError(`poolSize must be a positive integer (got ${poolSize})`);
  if (options.schema !== undefined && !SCHEMA_NAME.test(options.schema))
    throw new TypeError(`schema must be a lowercase SQL identifier (got ${JSON.stringify(options.schema)})`);
  const parameters = options.url === undefined ? [] : urlParameters(options.url);
  if (options.ssl !== undefined && parameters.some((key) => key.startsWith('ssl')))
    throw new TypeError('give the database TLS settings as the ssl option or in the URL, not both');
  // The URL's `options` would replace the session settings below.
  if (parameters.includes('options'))
    throw new TypeError('session options go in config.options, not in the URL');
  const session = [
    // A replica that vanishes mid-transaction (a frozen VM, a partition) would hold the write lock, and so
    // stall every other replica's writes, until TCP keepalive notices: hours by default. The server ends
    // such a session after a minute instead. config.options may set another value.
    `-c idle_in_transaction_session_timeout=${IDLE_IN_TRANSACTION_MS}`,
    options.config?.options,
    // Doubles travel as their shortest exact text whatever the server's default: confidence round-trips.
    '-c extra_float_digits=3',
    options.schema === undefined ? undefined : `-c search_path=${options.schema}`,
  ];
  return {
    connectionTimeoutMillis: 10_000,
    keepAlive: true,
    ...options.config,
    ...(options.url === undefined ? {} : { connectionString: options.url }),
    ssl: options.ssl ?? false,
    max: poolSize,
    options: session.filter((part) => part !== undefined).join(' '),
  };
}

/** host:port/database for messages: never the user's password. */
function target(config: PoolConfig): string {
  try {
    if (config.connectionString !== undefined) {
      const url = new URL(config.connectionString);
      return `${url.hostname || 'localhost'}:${url.port || 5432}${url.pathname}`;
    }
  } catch {
    return 'named by the URL';
  }
  return `${config.host ?? 'localhost'}:${config.port ?? 5432}/${config.database ?? ''}`;
}

async function currentSchema(client: PoolClient): Promise<string> {
  const { rows } = await client.query<{ schema: string | null }>('SELECT current_schema() AS schema');
  const schema = rows[0]?.schema;
  if (!schema) throw new Error('the search_path names no existing schema: give the schema option');
  return schema;
}

/** Migrates the schema on a pooled connection; discarded on failure, so a session lock never outlives it. */
async function prepareSchema(pool: pg.Pool, wanted: string | undefined): Promise<string> {
  const client = await pool.connect();
  client.on('error', ignore);
  let failed = true;
  try {
    const schema = wanted ?? (await currentSchema(client));
    await migrate(client, schema, advisoryLocks(schema));
    failed = false;
    return schema;
  } finally {
    client.off('error', ignore);
    client.release(failed);
  }
}

/**
 * Opens a Store on PostgreSQL: a pool of `poolSize` connections, the schema created and migrated once
 * (under an advisory lock, so replicas starting together do not race). A schema written by a newer release
 * is refused with StoreError `schema_too_new`; an unreachable or refusing server with `store_open_failed`.
 */
export async function openPostgresStore(options: PostgresStoreOptions = {}): Promise<Store> {
  const config = poolConfig(options);
  const pool = new pg.Pool(config);
  // An idle connection that fails emits here; the next call that needs a connection reports the failure.
  pool.on('error', ignore);
  options.onPool?.(pool);
  try {
    const schema = await prepareSchema(pool, options.schema);
    return postgresStore(pool, {
      schema,
      locks: advisoryLocks(schema),
      now: options.now ?? (() => new Date()),
    });
  } catch (error) {
    await pool.end().catch(ignore);
    if (error instanceof StoreError) throw error;
    throw new StoreError(
      'store_open_failed',
      `cannot open the PostgreSQL database ${target(config)}: ${describeFailure(error)}`,
      { cause: error },
    );
  }
}
