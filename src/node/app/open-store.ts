// Opens the node's state where the settings say: SQLite in the data dir, or PostgreSQL over verified TLS
// (the server checked against the CA bundle and its name, our client certificate presented, both followed
// across reloads: new connections take the new certificate, pooled ones are retired once their query ends).
// `tessera serve` and every CLI command that opens the node's state go through here.
import type { Logger } from 'pino';
import { openPostgresStore } from '../../store/postgres/open.ts';
import { openSqliteStore } from '../../store/sqlite/open.ts';
import { databasePath } from '../../store/sqlite/paths.ts';
import type { Store } from '../../store/store.ts';
import type { Clock } from '../../tls/clock.ts';
import { CredentialSource } from '../../tls/credential-source.ts';
import type { TlsMetrics } from '../../tls/metrics.ts';
import { pgSslOptions, recyclePgPool } from '../../transport/db-tls-pg.ts';
import type { DatabaseSettings } from '../settings/database.ts';

export interface StateSettings {
  dataDir: string;
  /** The SQLite file (TESSERA_DB_PATH); default `tessera.db` in the data dir. */
  dbPath?: string | undefined;
  database: DatabaseSettings;
}

/** Where SQLite keeps the node's state under these settings. */
export function sqliteFile(settings: StateSettings): string {
  return settings.dbPath ?? databasePath(settings.dataDir);
}

export interface OpenedState {
  store: Store;
  /** Where the state is, for messages (a PostgreSQL URL without its password). */
  where: string;
  /** Reads the database TLS material again (SIGHUP, `reload`); a no-op for SQLite. */
  reload(): Promise<void>;
  /** Closes the store and stops following the TLS material. */
  close(): Promise<void>;
}

export interface OpenStateOptions {
  logger: Logger;
  clock?: Clock;
  metrics?: TlsMetrics;
}

export async function openNodeState(
  settings: StateSettings,
  options: OpenStateOptions,
): Promise<OpenedState> {
  const { database } = settings;
  if (database.kind === 'sqlite') {
    const file = sqliteFile(settings);
    const store = await openSqliteStore(file);
    return { store, where: file, reload: async () => undefined, close: () => store.close() };
  }
  if (database.tls.mode === 'off') {
    options.logger.warn(
      { event: 'database_tls_off', database: database.display },
      'SECURITY WARNING: the PostgreSQL connection is not encrypted (TESSERA_DATABASE_TLS=off)',
    );
    const store = await openPostgresStore({ url: database.url, ssl: false });
    return { store, where: database.display, reload: async () => undefined, close: () => store.close() };
  }
  const { caPath, certPath, keyPath } = database.tls;
  const credentials = await CredentialSource.open({
    certPath,
    keyPath,
    caPath,
    logger: options.logger,
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.metrics ? { metrics: options.metrics } : {}),
  });
  let stopRecycling = () => {};
  try {
    const store = await openPostgresStore({
      url: database.url,
      ssl: pgSslOptions({
        credentials,
        logger: options.logger,
        ...(options.clock ? { clock: options.clock } : {}),
        ...(options.metrics ? { metrics: options.metrics } : {}),
      }),
      onPool: (pool) => {
        stopRecycling = recyclePgPool(pool, credentials);
      },
    });
    return {
      store,
      where: database.display,
      reload: () => credentials.reload('manual').then(() => undefined),
      close: async () => {
        stopRecycling();
        await store.close();
        await credentials.close();
      },
    };
  } catch (error) {
    stopRecycling();
    await credentials.close();
    throw error;
  }
}
