// The node's settings: every one is a TESSERA_* environment variable and a `tessera serve` flag (the flag
// wins). Everything is validated here, at start, so a bad setting stops the node with one clear message
// naming the setting, before any file is created or port opened.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { TlsError } from '../tls/errors.ts';
import { evaluateFederationSecurity, type FederationSecurity, isLoopbackHost } from '../tls/insecure.ts';
import type { Logger } from '../tls/logger.ts';
import type { QuotaSettings } from './quota/quotas.ts';

export class ConfigError extends Error {
  readonly code = 'CONFIG_INVALID';
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

export type ApiTls = 'off' | 'tls' | 'mtls';

export interface NodeConfig {
  dataDir: string;
  entityUri: string;
  /** Advertised federation URL (origin only). */
  nodeUrl: string;
  /** nodeUrl was derived from the bind address (so a port 0 bind is filled in once listening). */
  nodeUrlFromBind: boolean;
  federationHost: string;
  federationPort: number;
  apiHost: string;
  apiPort: number;
  federation: FederationSecurity;
  apiTls: ApiTls;
  /** Plaintext API on a non-loopback address, acknowledged as sitting behind a TLS-terminating proxy. */
  apiBehindTrustedProxy: boolean;
  authRequired: boolean;
  /** The static bootstrap admin key (optional; managed keys are the normal path); never logged. */
  apiKey: string | undefined;
  /** Failed API authentications one client address may make per hour before it gets 429s. */
  authFailuresPerHour: number;
  pullIntervalMs: number;
  wakeDebounceMs: number;
  /** Serve facts that arrived from other peers too (default: only facts that originated here). */
  reforward: boolean;
  nodePrivateKey: string | undefined;
  nodeKeyPath: string | undefined;
  logLevel: string;
  /** Per-principal rate limits (requests per hour per dimension), or disabled (acknowledged). */
  quotas: QuotaSettings;
}

/** One setting: its env var, its flag (camelCase key of the commander options) and its default. */
interface Setting {
  env: string;
  flag: string;
  fallback?: string;
}

export const SETTINGS = {
  dataDir: { env: 'TESSERA_DATA_DIR', flag: 'dataDir', fallback: './tessera-data' },
  entityUri: { env: 'TESSERA_ENTITY_URI', flag: 'entityUri' },
  nodeUrl: { env: 'TESSERA_NODE_URL', flag: 'nodeUrl' },
  federationHost: { env: 'TESSERA_FEDERATION_HOST', flag: 'federationHost', fallback: '127.0.0.1' },
  federationPort: { env: 'TESSERA_FEDERATION_PORT', flag: 'federationPort', fallback: '8765' },
  apiHost: { env: 'TESSERA_API_HOST', flag: 'apiHost', fallback: '127.0.0.1' },
  apiPort: { env: 'TESSERA_API_PORT', flag: 'apiPort', fallback: '8780' },
  tlsCert: { env: 'TESSERA_TLS_CERT_PATH', flag: 'tlsCert' },
  tlsKey: { env: 'TESSERA_TLS_KEY_PATH', flag: 'tlsKey' },
  tlsCa: { env: 'TESSERA_TLS_CA_BUNDLE', flag: 'tlsCa' },
  apiTls: { env: 'TESSERA_API_TLS', flag: 'apiTls', fallback: 'off' },
  apiBehindTrustedProxy: { env: 'TESSERA_API_BEHIND_TRUSTED_PROXY', flag: 'apiBehindTrustedProxy' },
  authRequired: { env: 'TESSERA_AUTH_REQUIRED', flag: 'authRequired', fallback: 'true' },
  apiKeyFile: { env: 'TESSERA_API_KEY_FILE', flag: 'apiKeyFile' },
  insecure: { env: 'TESSERA_FEDERATION_INSECURE', flag: 'federationInsecure' },
  insecureNonLoopback: {
    env: 'TESSERA_LOCAL_DEV_ALLOW_INSECURE_NON_LOOPBACK',
    flag: 'localDevAllowInsecureNonLoopback',
  },
  authFailures: { env: 'TESSERA_AUTH_FAILURES_PER_HOUR', flag: 'authFailuresPerHour', fallback: '120' },
  pullInterval: { env: 'TESSERA_FEDERATION_PULL_INTERVAL_S', flag: 'pullInterval', fallback: '30' },
  wakeDebounce: { env: 'TESSERA_FEDERATION_WAKE_DEBOUNCE_MS', flag: 'wakeDebounceMs', fallback: '50' },
  reforward: { env: 'TESSERA_FEDERATION_REFORWARD', flag: 'reforward', fallback: 'false' },
  nodeKeyPath: { env: 'TESSERA_NODE_KEY_PATH', flag: 'nodeKeyPath' },
  logLevel: { env: 'TESSERA_LOG_LEVEL', flag: 'logLevel', fallback: 'info' },
  rateLimitWrite: {
    env: 'TESSERA_RATE_LIMIT_WRITE_PER_HOUR',
    flag: 'rateLimitWritePerHour',
    fallback: '1000',
  },
  rateLimitRead: { env: 'TESSERA_RATE_LIMIT_READ_PER_HOUR', flag: 'rateLimitReadPerHour', fallback: '5000' },
  rateLimitFederationPull: {
    env: 'TESSERA_RATE_LIMIT_FEDERATION_PULL_PER_HOUR',
    flag: 'rateLimitFederationPullPerHour',
    fallback: '36000',
  },
  rateLimitAdmin: {
    env: 'TESSERA_RATE_LIMIT_ADMIN_PER_HOUR',
    flag: 'rateLimitAdminPerHour',
    fallback: '600',
  },
  rateLimitDisabledAck: { env: 'TESSERA_RATE_LIMIT_DISABLED_ACK', flag: 'rateLimitDisabledAck' },
} satisfies Record<string, Setting>;

/** Secrets are env-only (a flag would show in `ps`): the API key and the node's private key seed. */
export const SECRET_ENV = { apiKey: 'TESSERA_API_KEY', nodePrivateKey: 'TESSERA_NODE_PRIVATE_KEY' };

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

export function loadConfig(
  flags: Record<string, string | boolean | undefined>,
  env: Record<string, string | undefined>,
  logger?: Logger,
): NodeConfig {
  const raw = (setting: Setting): string | undefined => {
    const flag = flags[setting.flag];
    if (typeof flag === 'boolean') return flag ? 'true' : 'false';
    const value = flag ?? env[setting.env];
    return value === undefined || value.trim() === '' ? setting.fallback : value.trim();
  };
  const name = (setting: Setting) => `${setting.env} (--${kebab(setting.flag)})`;

  const entityUri = raw(SETTINGS.entityUri);
  if (!entityUri) throw new ConfigError(`${name(SETTINGS.entityUri)} is required: this node's identity URI`);
  checkUri(entityUri, name(SETTINGS.entityUri));

  const federationHost = raw(SETTINGS.federationHost) as string;
  const federationPort = port(raw(SETTINGS.federationPort) as string, name(SETTINGS.federationPort));
  const apiHost = raw(SETTINGS.apiHost) as string;
  const apiPort = port(raw(SETTINGS.apiPort) as string, name(SETTINGS.apiPort));

  const tls = {
    certPath: raw(SETTINGS.tlsCert),
    keyPath: raw(SETTINGS.tlsKey),
    caPath: raw(SETTINGS.tlsCa),
  };
  const nodeUrlRaw = raw(SETTINGS.nodeUrl);
  // Credentials in the advertised URL are refused before anything logs or echoes it.
  if (nodeUrlRaw && /^[a-z][a-z0-9+.-]*:\/\/[^/]*@/i.test(nodeUrlRaw))
    throw new ConfigError(`${name(SETTINGS.nodeUrl)} must not contain credentials (user:password@)`);
  // The gates of rule 7 read the two switches from an env-shaped record; flags are folded in first.
  const gateEnv = {
    [SETTINGS.insecure.env]: raw(SETTINGS.insecure),
    [SETTINGS.insecureNonLoopback.env]: raw(SETTINGS.insecureNonLoopback),
  };
  let federation: FederationSecurity;
  try {
    federation = evaluateFederationSecurity({
      env: gateEnv,
      bindHost: federationHost,
      ...(nodeUrlRaw ? { advertisedUrl: nodeUrlRaw } : {}),
      tls,
      ...(logger ? { logger } : {}),
    });
  } catch (error) {
    throw withFlagNames(error);
  }
  const scheme = federation.mode === 'mtls' ? 'https' : 'http';
  const nodeUrl = nodeUrlRaw
    ? checkNodeUrl(nodeUrlRaw, scheme, name(SETTINGS.nodeUrl))
    : `${scheme}://${hostForUrl(federationHost)}:${federationPort}`;

  const apiTls = raw(SETTINGS.apiTls) as string;
  if (!['off', 'tls', 'mtls'].includes(apiTls))
    throw new ConfigError(`${name(SETTINGS.apiTls)} must be off, tls or mtls (got "${apiTls}")`);
  if (apiTls !== 'off' && federation.mode !== 'mtls')
    throw new ConfigError(
      `${name(SETTINGS.apiTls)}=${apiTls} needs the node's TLS material (TESSERA_TLS_CERT_PATH, _KEY_PATH, _CA_BUNDLE)`,
    );
  const apiBehindTrustedProxy = bool(
    raw(SETTINGS.apiBehindTrustedProxy),
    name(SETTINGS.apiBehindTrustedProxy),
  );
  if (apiTls === 'off' && !isLoopbackHost(apiHost) && !apiBehindTrustedProxy)
    throw new ConfigError(
      `the API listener ${apiHost} is not loopback and ${name(SETTINGS.apiTls)} is off: use tls or mtls, or set ${SETTINGS.apiBehindTrustedProxy.env}=1 when a TLS-terminating proxy is in front`,
    );

  const authRequired = bool(raw(SETTINGS.authRequired), name(SETTINGS.authRequired));
  if (!authRequired && !isLoopbackHost(apiHost))
    throw new ConfigError(
      `${name(SETTINGS.authRequired)}=false is allowed only when the API listener is loopback (it is ${apiHost})`,
    );
  const apiKey = readApiKey(env, raw(SETTINGS.apiKeyFile), name(SETTINGS.apiKeyFile));
  // No static key is fine: managed keys (`tessera keys bootstrap`) are the normal path; the node warns at
  // start when it has neither.

  const pullSeconds = Number(raw(SETTINGS.pullInterval));
  if (
    !/^\d+(\.\d+)?$/.test(raw(SETTINGS.pullInterval) as string) ||
    pullSeconds < 0.05 ||
    pullSeconds > 86_400
  )
    throw new ConfigError(
      `${name(SETTINGS.pullInterval)} must be a number of seconds from 0.05 to 86400 (got "${raw(SETTINGS.pullInterval)}")`,
    );
  const wakeDebounceMs = Number(raw(SETTINGS.wakeDebounce));
  if (!/^\d+$/.test(raw(SETTINGS.wakeDebounce) as string) || wakeDebounceMs > 60_000)
    throw new ConfigError(
      `${name(SETTINGS.wakeDebounce)} must be whole milliseconds from 0 to 60000 (got "${raw(SETTINGS.wakeDebounce)}")`,
    );

  const logLevel = raw(SETTINGS.logLevel) as string;
  if (!LOG_LEVELS.includes(logLevel))
    throw new ConfigError(
      `${name(SETTINGS.logLevel)} must be one of ${LOG_LEVELS.join(', ')} (got "${logLevel}")`,
    );

  return {
    dataDir: resolve(raw(SETTINGS.dataDir) as string),
    entityUri,
    nodeUrl,
    nodeUrlFromBind: !nodeUrlRaw,
    federationHost,
    federationPort,
    apiHost,
    apiPort,
    federation,
    apiTls: apiTls as ApiTls,
    apiBehindTrustedProxy,
    authRequired,
    apiKey,
    authFailuresPerHour: wholeNumber(
      raw(SETTINGS.authFailures) as string,
      1,
      1_000_000,
      name(SETTINGS.authFailures),
    ),
    pullIntervalMs: Math.round(pullSeconds * 1000),
    wakeDebounceMs,
    reforward: bool(raw(SETTINGS.reforward), name(SETTINGS.reforward)),
    nodePrivateKey: env[SECRET_ENV.nodePrivateKey]?.trim() || undefined,
    nodeKeyPath: raw(SETTINGS.nodeKeyPath),
    logLevel,
    quotas: loadQuotaSettings(raw, name),
  };
}

const MAX_RATE_PER_HOUR = 10_000_000;

/** Rates are whole requests per hour. Write and read at 0 switch every quota off, and only with the ACK. */
function loadQuotaSettings(
  raw: (setting: Setting) => string | undefined,
  name: (setting: Setting) => string,
): QuotaSettings {
  const rate = (setting: Setting): number => {
    const value = raw(setting) as string;
    if (!/^\d+$/.test(value) || Number(value) > MAX_RATE_PER_HOUR)
      throw new ConfigError(
        `${name(setting)} must be a whole number of requests per hour from 0 to ${MAX_RATE_PER_HOUR} (got "${value}")`,
      );
    return Number(value);
  };
  const { rateLimitWrite: w, rateLimitRead: r, rateLimitDisabledAck: ack } = SETTINGS;
  const settings = {
    writePerHour: rate(w),
    readPerHour: rate(r),
    federationPullPerHour: rate(SETTINGS.rateLimitFederationPull),
    adminPerHour: rate(SETTINGS.rateLimitAdmin),
    disabled: false,
  };
  const acknowledged = bool(raw(ack), name(ack));
  if ((settings.writePerHour === 0) !== (settings.readPerHour === 0))
    throw new ConfigError(
      `${name(w)} and ${name(r)} can only be 0 together, which switches every quota off (with ${name(ack)}=1); a single 0 would silently remove one limit, so give it a positive rate`,
    );
  settings.disabled = settings.writePerHour === 0 && settings.readPerHour === 0;
  if (settings.disabled && !acknowledged)
    throw new ConfigError(
      `${name(w)}=0 and ${name(r)}=0 switch every per-principal quota off: set ${name(ack)}=1 to confirm (a SECURITY WARNING is then logged at every start)`,
    );
  for (const setting of [SETTINGS.rateLimitFederationPull, SETTINGS.rateLimitAdmin])
    if (!settings.disabled && rate(setting) === 0)
      throw new ConfigError(
        `${name(setting)} must be at least 1 while quotas are on (0 is only accepted when every quota is switched off)`,
      );
  return settings;
}

/** The gates of rule 7 name only the env variables; add each one's flag (same code) so flag users see theirs. */
function withFlagNames(error: unknown): unknown {
  if (!(error instanceof TlsError)) return error;
  const gated = [
    SETTINGS.insecure,
    SETTINGS.insecureNonLoopback,
    SETTINGS.tlsCert,
    SETTINGS.tlsKey,
    SETTINGS.tlsCa,
  ];
  let message = error.message.replace(`${error.code}: `, '');
  for (const setting of gated)
    message = message.replace(
      new RegExp(`\\b${setting.env}\\b`, 'g'),
      `${setting.env} (--${kebab(setting.flag)})`,
    );
  return new TlsError(error.code, message, error.file);
}

function kebab(flag: string): string {
  return flag.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

function bool(value: string | undefined, what: string): boolean {
  const v = (value ?? '').toLowerCase();
  if (v === '' || v === '0' || v === 'false') return false;
  if (v === '1' || v === 'true') return true;
  throw new ConfigError(`${what} must be true/1 or false/0 (got "${value}")`);
}

function wholeNumber(value: string, min: number, max: number, what: string): number {
  if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max)
    throw new ConfigError(`${what} must be a whole number from ${min} to ${max} (got "${value}")`);
  return Number(value);
}

function port(value: string, what: string): number {
  if (!/^\d+$/.test(value) || Number(value) > 65535)
    throw new ConfigError(`${what} must be a port number from 0 to 65535 (got "${value}")`);
  return Number(value);
}

function checkUri(value: string, what: string): void {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError(
      `${what} must be an absolute URI such as spiffe://example.org/node/a (got "${value}")`,
    );
  }
  if (/\s/.test(value) || !url.protocol || url.protocol === 'http:' || url.protocol === 'https:')
    throw new ConfigError(
      `${what} must be an identity URI (e.g. spiffe://example.org/node/a), not a URL to reach the node (got "${value}")`,
    );
}

function checkNodeUrl(value: string, scheme: string, what: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError(
      `${what} must be a URL such as ${scheme}://node.example.org:8765 (got "${redact(value)}")`,
    );
  }
  if (url.protocol !== `${scheme}:`)
    throw new ConfigError(
      `${what} must use ${scheme}:// with this federation transport (got "${redact(value)}")`,
    );
  if (url.pathname !== '/' || url.search || url.hash || url.username || url.password)
    throw new ConfigError(
      `${what} must be an origin only, without path, query or credentials (got "${redact(value)}")`,
    );
  return url.origin;
}

/** Drops anything that could be a secret (userinfo) from a URL before it is shown. */
function redact(value: string): string {
  return value.replace(/\/\/[^/@]*@/, '//***@');
}

function hostForUrl(host: string): string {
  if (host === '0.0.0.0' || host === '::') return '127.0.0.1';
  return host.includes(':') ? `[${host}]` : host;
}

function readApiKey(
  env: Record<string, string | undefined>,
  file: string | undefined,
  what: string,
): string | undefined {
  const fromEnv = env[SECRET_ENV.apiKey]?.trim();
  if (fromEnv && file) throw new ConfigError(`set either ${SECRET_ENV.apiKey} or ${what}, not both`);
  if (fromEnv) return checkKey(fromEnv, SECRET_ENV.apiKey);
  if (!file) return undefined;
  let content: string;
  try {
    content = readFileSync(file, 'utf8').trim();
  } catch (error) {
    throw new ConfigError(`${what}: cannot read ${file} (${(error as NodeJS.ErrnoException).code})`);
  }
  return checkKey(content, what);
}

function checkKey(key: string, what: string): string {
  // The value itself is never echoed: it is a secret.
  if (key.length < 24 || /\s/.test(key))
    throw new ConfigError(`${what}: an API key must be at least 24 characters without whitespace`);
  return key;
}
