// Where the node keeps its state: embedded SQLite in the data dir (the default), or PostgreSQL when
// TESSERA_DATABASE_URL is set, reached over verified TLS with the node's (or the given) certificate. A
// plaintext database connection is the same kind of exception as insecure federation: loopback only,
// unless the second acknowledgement is given. The URL may hold a password: it is never shown.
import { isLoopbackHost, parseFlag } from '../../tls/insecure.ts';
import { SETTINGS, type Setting } from './table.ts';

export type DatabaseSettings =
  | { kind: 'sqlite' }
  | {
      kind: 'postgres';
      /** Never log or show: it may carry a password. */
      url: string;
      /** What the operator may see of the URL (no password). */
      display: string;
      host: string;
      tls: { mode: 'verify-full'; caPath: string; certPath: string; keyPath: string } | { mode: 'off' };
    };

export interface DatabaseInputs {
  url: string | undefined;
  tls: 'verify-full' | 'off';
  caPath: string | undefined;
  certPath: string | undefined;
  keyPath: string | undefined;
  /** The node's own TLS material: the defaults of the three paths. */
  node: { caPath: string | undefined; certPath: string | undefined; keyPath: string | undefined };
  /** TESSERA_LOCAL_DEV_ALLOW_INSECURE_NON_LOOPBACK was given. */
  allowNonLoopback: boolean;
}

const name = (setting: Setting) =>
  setting.flag ? `${setting.env} (${setting.flag.split(' ')[0]})` : setting.env;

/** The database settings, or undefined with the problems pushed (each a full sentence). */
export function databaseSettings(input: DatabaseInputs, problems: string[]): DatabaseSettings | undefined {
  if (input.url === undefined || input.url.trim() === '') return { kind: 'sqlite' };
  let url: URL;
  try {
    url = new URL(input.url);
  } catch {
    problems.push(
      `${SETTINGS.databaseUrl.env} must be a URL such as postgres://tessera@db.example.org:5432/tessera`,
    );
    return undefined;
  }
  const display = displayUrl(url);
  const before = problems.length;
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:')
    problems.push(`${SETTINGS.databaseUrl.env} must be a postgres:// URL (got ${display})`);
  // TLS is ours to set from the settings below; an sslmode in the URL as well would silently override it.
  for (const key of url.searchParams.keys())
    if (/^ssl/i.test(key))
      problems.push(
        `${SETTINGS.databaseUrl.env} must not set ${key}: TLS is configured by ${name(SETTINGS.databaseTls)} and the database TLS paths`,
      );
  const host = decodeURIComponent(url.hostname.replace(/^\[|\]$/g, ''));
  if (host === '') problems.push(`${SETTINGS.databaseUrl.env} must name the database host (got ${display})`);
  if (input.tls === 'off') {
    if (host !== '' && !isLoopbackHost(host) && !input.allowNonLoopback)
      problems.push(
        `${name(SETTINGS.databaseTls)}=off is allowed only for a loopback database (${host} is not): use verify-full, or set ${SETTINGS.insecureNonLoopback.env}=1 to acknowledge a plaintext connection for local development`,
      );
    return problems.length > before
      ? undefined
      : { kind: 'postgres', url: input.url, display, host, tls: { mode: 'off' } };
  }
  const caPath = input.caPath ?? input.node.caPath;
  const certPath = input.certPath ?? input.node.certPath;
  const keyPath = input.keyPath ?? input.node.keyPath;
  if (!caPath)
    problems.push(
      `${name(SETTINGS.databaseTls)}=verify-full needs a CA bundle: set ${name(SETTINGS.databaseCa)} or ${SETTINGS.tlsCa.env}`,
    );
  if (!certPath || !keyPath)
    problems.push(
      `${name(SETTINGS.databaseTls)}=verify-full needs a client certificate and key: set ${name(SETTINGS.databaseCert)} and ${name(SETTINGS.databaseKey)}, or the node's ${SETTINGS.tlsCert.env} and ${SETTINGS.tlsKey.env}`,
    );
  if (problems.length > before || !caPath || !certPath || !keyPath) return undefined;
  return {
    kind: 'postgres',
    url: input.url,
    display,
    host,
    tls: { mode: 'verify-full', caPath, certPath, keyPath },
  };
}

/** The URL with any password replaced, for messages and logs. */
function displayUrl(url: URL): string {
  const shown = new URL(url.href);
  if (shown.password) shown.password = '***';
  return shown.href;
}

/** The setting values the database settings are made from (as readSettings returns them). */
export interface DatabaseSettingValues {
  databaseUrl?: string | undefined;
  databaseTls?: unknown;
  databaseCa?: string | undefined;
  databaseCert?: string | undefined;
  databaseKey?: string | undefined;
  tlsCa?: string | undefined;
  tlsCert?: string | undefined;
  tlsKey?: string | undefined;
  insecureNonLoopback?: string | undefined;
}

/** databaseSettings from the parsed setting values (`tessera serve` and the CLI commands alike). */
export function databaseSettingsFrom(
  s: DatabaseSettingValues,
  problems: string[],
): DatabaseSettings | undefined {
  return databaseSettings(
    {
      url: s.databaseUrl,
      tls: (s.databaseTls ?? 'verify-full') as 'verify-full' | 'off',
      caPath: s.databaseCa,
      certPath: s.databaseCert,
      keyPath: s.databaseKey,
      node: { caPath: s.tlsCa, certPath: s.tlsCert, keyPath: s.tlsKey },
      allowNonLoopback: allowsNonLoopback(s.insecureNonLoopback),
    },
    problems,
  );
}

/** The second acknowledgement of rule 7, read as the federation gate reads it (an invalid value is its problem). */
export function allowsNonLoopback(value: string | undefined): boolean {
  try {
    return parseFlag({ flag: value }, 'flag');
  } catch {
    return false;
  }
}
