// `tessera keys bootstrap`: the first admin API key, written straight into the node's store (SQLite in the
// data dir, safe while the node runs: WAL; or its PostgreSQL database) and printed once. Further keys are made through the admin API with this one.
// It refuses when an active admin key exists already, unless --force (e.g. the last admin key was lost).
import { readFile } from 'node:fs/promises';
import { Command } from 'commander';
import { AuditLog } from '../node/features/audit/audit-log.ts';
import { ApiKeys } from '../node/features/auth/api-keys.ts';
import { thumbprintOfPem } from '../node/features/auth/cert-binding.ts';
import { PERMISSIONS, type Permission } from '../node/features/auth/permissions.ts';
import { systemClock } from '../tls/clock.ts';
import { openExistingState, STATE_SETTINGS, stateSettings } from './node-state.ts';
import { addSettingOptions } from './setting-options.ts';

export const BOOTSTRAP_ENTITY_URI = 'urn:tessera:bootstrap-admin';

interface BootstrapFlags {
  dataDir?: string;
  entityUri: string;
  permissions: string;
  description: string;
  force?: boolean;
  json?: boolean;
  bindCert?: string;
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
  const certSha256 = flags.bindCert ? await boundThumbprint(flags.bindCert) : undefined;
  const state = await openExistingState(stateSettings(flags), { create: true });
  const { store, where: file } = state;
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
      certSha256,
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
        ...(certSha256 ? { cnf: { 'x5t#S256': certSha256 } } : {}),
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
      ...(certSha256 ? { cnf: { 'x5t#S256': certSha256 } } : {}),
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
    await state.close();
  }
}

/** The `x5t#S256` of the certificate file given to --bind-cert. */
export async function boundThumbprint(file: string): Promise<string> {
  let pem: string;
  try {
    pem = await readFile(file, 'utf8');
  } catch (error) {
    throw new Error(`--bind-cert: cannot read ${file} (${(error as NodeJS.ErrnoException).code})`);
  }
  try {
    return thumbprintOfPem(pem);
  } catch {
    throw new Error(`--bind-cert: ${file} holds no PEM certificate`);
  }
}

export function keysCommand(): Command {
  const keys = new Command('keys').description('managed API keys').exitOverride();
  addSettingOptions(keys.command('bootstrap'), STATE_SETTINGS)
    .description("create the first admin API key directly in the node's database and print it once")
    .option('--entity-uri <uri>', 'the principal the key acts as', BOOTSTRAP_ENTITY_URI)
    .option('--permissions <list>', 'comma-separated permissions (must include admin)', PERMISSIONS.join(','))
    .option(
      '--description <text>',
      'shown when keys are listed',
      'bootstrap admin key (tessera keys bootstrap)',
    )
    .option(
      '--bind-cert <file>',
      'bind the key to this client certificate (PEM, RFC 8705 cnf x5t#S256): refused on any request without it',
    )
    .option('--force', 'create another admin key even though one exists')
    .option('--json', 'print JSON')
    .exitOverride()
    .action((flags: BootstrapFlags) => bootstrap(flags));
  return keys;
}
