// `tessera keys bootstrap`: the first admin API key, written straight into the node's SQLite store (safe
// while the node runs: WAL) and printed once. Further keys are made through the admin API with this one.
// It refuses when an active admin key exists already, unless --force (e.g. the last admin key was lost).
import { stat } from 'node:fs/promises';

import { Command } from 'commander';
import { AuditLog } from '../node/features/audit/audit-log.ts';
import { ApiKeys } from '../node/features/auth/api-keys.ts';
import { PERMISSIONS, type Permission } from '../node/features/auth/permissions.ts';
import { openSqliteStore } from '../store/sqlite/open.ts';
import { databasePath } from '../store/sqlite/paths.ts';
import { systemClock } from '../tls/clock.ts';
import { addSettingOptions, commandSettings } from './setting-options.ts';

export const BOOTSTRAP_ENTITY_URI = 'urn:tessera:bootstrap-admin';

interface BootstrapFlags {
  dataDir?: string;
  entityUri: string;
  permissions: string;
  description: string;
  force?: boolean;
  json?: boolean;
}

function parsePermissions(list: string): Permission[] {
  const wanted = list
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean);
  const unknown = wanted.filter((p) => !(PERMISSIONS as readonly string[]).includes(p));
  if (unknown.length > 0)
    throw new Error(`--permissions: unknown ${unknown.join(', ')} (known: ${PERMISSIONS.join(', ')})`);
  if (!wanted.includes('admin')) throw new Error('--permissions: a bootstrap key needs admin');
  return wanted as Permission[];
}

function checkEntityUri(value: string): void {
  let ok = !/\s/.test(value);
  try {
    new URL(value);
  } catch {
    ok = false;
  }
  if (!ok) throw new Error(`--entity-uri must be an absolute URI such as urn:example:ops (got "${value}")`);
}

async function bootstrap(flags: BootstrapFlags): Promise<void> {
  checkEntityUri(flags.entityUri);
  const permissions = parsePermissions(flags.permissions);
  const { dataDir, dbPath } = commandSettings(['dataDir', 'dbPath'], flags);
  // A mistyped directory or path must not silently get a fresh database with a key the node never sees.
  if (dbPath) {
    if (!(await stat(dbPath).catch(() => null))?.isFile())
      throw new Error(`no database ${dbPath}: give the node's --db-path (start the node once first)`);
  } else if (!(await stat(dataDir).catch(() => null))?.isDirectory())
    throw new Error(`no data directory ${dataDir}: give the node's --data-dir (or create it first)`);
  const file = dbPath ?? databasePath(dataDir);
  const store = await openSqliteStore(file);
  try {
    const apiKeys = new ApiKeys({ store });
    if (!flags.force && (await apiKeys.hasActiveAdmin()))
      throw new Error(
        `an active admin API key already exists in ${file}; create more keys through POST /v1/admin/api-keys, or pass --force to add another admin key anyway`,
      );
    const { key, token } = await apiKeys.create({
      entityUri: flags.entityUri,
      permissions,
      description: flags.description,
    });
    // The key's creation is evidence like any other: audited before the secret is shown.
    await new AuditLog({ store, clock: systemClock }).record(
      'api_key_created',
      'cli:tessera keys bootstrap',
      {
        key_id: key.id,
        entity_uri: key.entityUri,
        permissions: key.permissions,
        forced: flags.force === true,
      },
    );
    const view = {
      id: key.id,
      key: token,
      entity_uri: key.entityUri,
      permissions: key.permissions,
      expires_at: key.expiresAt,
      description: key.description,
      created_at: key.createdAt,
    };
    process.stdout.write(
      flags.json
        ? `${JSON.stringify(view, null, 2)}\n`
        : [
            `Created admin API key ${key.id} for ${key.entityUri} (${key.permissions.join(', ')}) in ${file}.`,
            'It is shown this once and stored only as a hash: keep it in your secret store now.',
            '',
            token,
            '',
            'Send it as: Authorization: Bearer <key>',
            '',
          ].join('\n'),
    );
  } finally {
    await store.close();
  }
}

export function keysCommand(): Command {
  const keys = new Command('keys').description('managed API keys').exitOverride();
  addSettingOptions(keys.command('bootstrap'), ['dataDir', 'dbPath'])
    .description("create the first admin API key directly in the node's database and print it once")
    .option('--entity-uri <uri>', 'the principal the key acts as', BOOTSTRAP_ENTITY_URI)
    .option('--permissions <list>', 'comma-separated permissions (must include admin)', PERMISSIONS.join(','))
    .option(
      '--description <text>',
      'shown when keys are listed',
      'bootstrap admin key (tessera keys bootstrap)',
    )
    .option('--force', 'create another admin key even though one exists')
    .option('--json', 'print JSON')
    .exitOverride()
    .action((flags: BootstrapFlags) => bootstrap(flags));
  return keys;
}
