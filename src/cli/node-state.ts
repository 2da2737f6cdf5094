// The node's state as `tessera serve` opens it, for the CLI commands that read or write it (audit, keys):
// the same settings (data dir, TESSERA_DATABASE_URL and its TLS), so a command works on whatever store and
// keys the node uses. A missing SQLite file is an error here, never a fresh empty database.
import { stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { pino } from 'pino';
import { type OpenedState, openNodeState, type StateSettings, sqliteFile } from '../node/app/open-store.ts';
import { databaseSettingsFrom } from '../node/settings/database.ts';
import { ConfigError } from '../node/settings/read.ts';
import { commandSettings } from './setting-options.ts';

/** The settings a command that opens the node's state takes (flags and env, as `tessera serve`). */
export const STATE_SETTINGS = [
  'dataDir',
  'dbPath',
  'databaseUrl',
  'databaseTls',
  'databaseCa',
  'databaseCert',
  'databaseKey',
  'tlsCert',
  'tlsKey',
  'tlsCa',
  'insecureNonLoopback',
] as const;

/** Where the node keeps its state, from the command's flags and the environment; ConfigError on a bad setting. */
export function stateSettings(flags: object): StateSettings {
  const s = commandSettings(STATE_SETTINGS, flags);
  const problems: string[] = [];
  const database = databaseSettingsFrom(s, problems);
  if (!database) throw new ConfigError(problems);
  return { dataDir: resolve(s.dataDir), dbPath: s.dbPath ? resolve(s.dbPath) : undefined, database };
}

/**
 * Opens the node's state; throws a plain Error naming what is missing (no stack for the user). SQLite: the
 * database file must exist, or with `create` (the first admin key before the first start) the data dir.
 */
export async function openExistingState(
  settings: StateSettings,
  options: { create?: boolean } = {},
): Promise<OpenedState> {
  if (settings.database.kind === 'sqlite') {
    // Opening would create an empty database: a mistyped --data-dir must not look like an empty node.
    const file = sqliteFile(settings);
    if (options.create) {
      // The first admin key may come before the first start: the database's directory must exist.
      const where = settings.dbPath ? dirname(file) : settings.dataDir;
      const dir = await stat(where).catch(() => null);
      if (!dir?.isDirectory())
        throw new Error(
          settings.dbPath
            ? `no directory ${where} for the database ${file}: give the node's --db-path (or create the directory first)`
            : `no data directory ${settings.dataDir}: give the node's --data-dir (or create it first)`,
        );
    } else {
      const found = await stat(file).catch((error: NodeJS.ErrnoException) => error);
      if (found instanceof Error || !found.isFile())
        throw new Error(
          `no node database at ${file} (${found instanceof Error ? (found.code ?? found.message) : 'not a file'}): is --data-dir (or --db-path) the node's?`,
        );
    }
  }
  // Log lines (e.g. the warning of TESSERA_DATABASE_TLS=off) go to stderr: stdout is the command's answer
  // (`--json` must stay parseable).
  const logger = pino({ level: process.env.TESSERA_LOG_LEVEL ?? 'error' }, pino.destination(2));
  return openNodeState(settings, { logger });
}
