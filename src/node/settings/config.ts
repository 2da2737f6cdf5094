// What `tessera serve` runs with: the values of the settings table (settings.ts) and the rules that involve
// several settings. Everything is validated here, at start, and every problem is reported at once (each
// naming its setting), before any file is created or port opened.
import { readFileSync } from 'node:fs';
import { databasePath } from '../../store/sqlite/paths.ts';
import { TlsError } from '../../tls/errors.ts';
import { evaluateFederationSecurity, type FederationSecurity, isLoopbackHost } from '../../tls/insecure.ts';
import type { Logger } from '../../tls/logger.ts';
import type { ForwardedCertHeader } from '../../transport/proxy/trusted-proxies.ts';
import type { QuotaSettings } from '../features/quotas/quotas.ts';
import { tlogPath } from '../features/rotation/tlog.ts';
import { aliasOf } from './aliases.ts';
import { allowsNonLoopback, type DatabaseSettings, databaseSettingsFrom } from './database.ts';
import { ConfigError, type Env, type Flags, problem, rawSetting, readSettings, settingName } from './read.ts';
import { standaloneSecurity } from './standalone.ts';
import { SERVE_SETTINGS, SETTINGS, type Setting } from './table.ts';

export type ApiTls = 'off' | 'tls' | 'mtls';

export interface TrustedProxySettings {
  /** CIDR networks of trusted proxies. */
  proxies: string[];
  /** URI SANs of the proxies' own certificates; empty: the address decides alone. */
  identities: string[];
  header: ForwardedCertHeader;
}

export interface ConnectionBounds {
  handshakeTimeoutMs: number;
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  keepAliveTimeoutMs: number;
  maxConnections: number;
}

export interface GrpcFederationSettings {
  host: string;
  port: number;
  /** The `host:port` published in the manifest; undefined = the bind host and the bound port. */
  advertise: string | undefined;
  /** Pages a stream may have written but not yet handed to the connection (the sender's buffer cap). */
  sendBufferPages: number;
  /** Nothing moved on a stream for this long: it is cut (and resumed from the stored cursor). */
  stallTimeoutMs: number;
}

export interface NodeConfig {
  dataDir: string;
  entityUri: string;
  /** Advertised federation URL (origin only). */
  nodeUrl: string;
  /** nodeUrl was derived from the bind address (so a port 0 bind is filled in once listening). */
  nodeUrlFromBind: boolean;
  federationHost: string;
  federationPort: number;
  /** The gRPC federation listener (TESSERA_FEDERATION_GRPC_PORT); null when off (the default). */
  grpc: GrpcFederationSettings | null;
  apiHost: string;
  apiPort: number;
  /** `none`: federation is off (TESSERA_FEDERATION_ENABLED=false) and no TLS material is given. */
  federation: FederationSecurity | { mode: 'none' };
  /** False: no federation listener, no puller, no wakes (a single node). */
  federationEnabled: boolean;
  /** Wake approved peers after local writes (push); never without federation. */
  pushEnabled: boolean;
  /** The SQLite database file (TESSERA_DB_PATH, default <data dir>/tessera.db). */
  dbPath: string;
  /** The local transparency log file (TESSERA_TL_LOCAL_PATH, default <data dir>/tlog.jsonl). */
  tlogPath: string;
  /** Where `tessera serve` writes its process id (TESSERA_PID_FILE); none when unset. */
  pidFile: string | undefined;
  /** Expiry event windows (TESSERA_TLS_EXPIRY_WARNING / _CRITICAL), in milliseconds before notAfter. */
  tlsExpiry: { warningMs: number; criticalMs: number };
  /** Validity floor for own TLS material (TESSERA_TLS_MIN_REMAINING_LIFETIME), ms; 0 = off. */
  tlsMinRemainingLifetimeMs: number;
  /** CRL files or directories (TESSERA_TLS_CRL_PATH) and the stale policy (TESSERA_TLS_CRL_STALE). */
  tlsCrl: { paths: string[]; stale: 'fail' | 'warn' };
  apiTls: ApiTls;
  /** Plaintext API on a non-loopback address, acknowledged as sitting behind a TLS-terminating proxy. */
  apiBehindTrustedProxy: boolean;
  /** Proxies that terminate mTLS in front of either listener (empty `proxies`: none). */
  trustedProxies: TrustedProxySettings;
  authRequired: boolean;
  /** The static bootstrap admin key (optional; managed keys are the normal path); never logged. */
  apiKey: string | undefined;
  /** Failed API authentications one client address may make per hour before it gets 429s. */
  authFailuresPerHour: number;
  pullIntervalMs: number;
  wakeDebounceMs: number;
  /** Bounds on every connection of both listeners (slow or idle clients, floods). */
  connections: ConnectionBounds;
  /** Bounds on pulling from one peer: pages and time per cycle, total deadline per call. */
  pull: { maxPagesPerCycle: number; maxCycleMs: number; pageTimeoutMs: number; connectTimeoutMs: number };
  /** SQLite in the data dir, or PostgreSQL (TESSERA_DATABASE_URL) with its TLS settings. */
  database: DatabaseSettings;
  /** Bounds on a peer's `attested` (bytes as JSON, nesting). */
  attested: { maxBytes: number; maxDepth: number };
  /** How far ahead of our wall clock a peer's fact may be dated (its HLC) before it is refused. */
  maxClockSkewMs: number;
  /** Serve facts that arrived from other peers too (default: only facts that originated here). */
  reforward: boolean;
  nodePrivateKey: string | undefined;
  nodeKeyPath: string | undefined;
  /** A fixed capability issuer key (base64url seed), instead of the ring in the data dir; never logged. */
  issuerPrivateKey: string | undefined;
  logLevel: string;
  /** Per-principal rate limits (requests per hour per dimension), or disabled (acknowledged). */
  quotas: QuotaSettings;
}

/**
 * Reads and checks every `serve` setting. Throws one ConfigError listing every problem; when the only
 * problem is a refusal of the insecure gates of rule 7, that TlsError itself (its TLS_* code).
 */
export function loadConfig(flags: Flags, env: Env, logger?: Logger): NodeConfig {
  const problems: string[] = [];
  const s = readSettings(SERVE_SETTINGS, flags, env, problems);
  const name = settingName;

  let gateError: TlsError | undefined;
  let federation: NodeConfig['federation'] | undefined;
  const federationEnabled = s.federationEnabled !== false;
  if (!federationEnabled) federation = standaloneSecurity(s, problems, logger);
  else
    try {
      federation = evaluateFederationSecurity({
        // The gates read the two switches from an env-shaped record; flags are folded in first.
        env: {
          [SETTINGS.insecure.env]: s.insecure,
          // The second acknowledgement also serves a plaintext database (database.ts): then it is not the
          // federation gate's to refuse as "set without its first step".
          [SETTINGS.insecureNonLoopback.env]:
            s.databaseUrl && s.databaseTls === 'off' && !allowsNonLoopback(s.insecure as string | undefined)
              ? undefined
              : s.insecureNonLoopback,
        },
        bindHost: s.federationHost as string,
        ...(s.nodeUrl ? { advertisedUrl: s.nodeUrl } : {}),
        tls: { certPath: s.tlsCert, keyPath: s.tlsKey, caPath: s.tlsCa },
        ...(logger ? { logger } : {}),
      });
    } catch (error) {
      if (!(error instanceof TlsError)) throw error;
      gateError = withFlagNames(error);
      problems.push(gateError.message);
    }

  const scheme = federation?.mode === 'mtls' ? 'https' : 'http';
  let nodeUrl: string | undefined;
  if (s.nodeUrl) {
    if (federation) nodeUrl = checkNodeUrl(s.nodeUrl, scheme, SETTINGS.nodeUrl, problems);
  } else if (s.federationPort !== undefined)
    nodeUrl = `${scheme}://${urlHost(s.federationHost as string)}:${s.federationPort}`;

  const apiHost = s.apiHost as string;
  if (s.apiTls && s.apiTls !== 'off' && federation && federation.mode !== 'mtls')
    problems.push(
      problem(
        SETTINGS.apiTls,
        `=${s.apiTls} needs the node's TLS material (TESSERA_TLS_CERT_PATH, _KEY_PATH, _CA_BUNDLE)`,
      ),
    );
  if (s.apiTls === 'off' && !isLoopbackHost(apiHost) && s.apiBehindTrustedProxy === false)
    problems.push(
      `the API listener ${apiHost} is not loopback and ${name(SETTINGS.apiTls)} is off: use tls or mtls, or set ${SETTINGS.apiBehindTrustedProxy.env}=1 when a TLS-terminating proxy is in front`,
    );
  if (s.authRequired === false && !isLoopbackHost(apiHost))
    problems.push(
      problem(
        SETTINGS.authRequired,
        `=false is allowed only when the API listener is loopback (it is ${apiHost})`,
      ),
    );
  const trustedProxies = s.trustedProxies as string[] | undefined;
  if (trustedProxies && trustedProxies.length > 0 && federation && federation.mode !== 'mtls')
    problems.push(
      problem(
        SETTINGS.trustedProxies,
        ": forwarded client certificates are verified against the node's CA bundle: set TESSERA_TLS_CERT_PATH, _KEY_PATH and _CA_BUNDLE",
      ),
    );
  // Trusting every address lets anyone on the network claim any client certificate.
  const everyone = trustedProxies?.find((network) => network.endsWith('/0'));
  if (everyone)
    problems.push(
      problem(
        SETTINGS.trustedProxies,
        `: ${everyone} trusts every address to forward client certificates; list the proxies' own addresses`,
      ),
    );
  // Node refuses a server whose headers may take longer than the whole request.
  const headers = s.headersTimeout as number | undefined;
  const whole = s.requestTimeout as number | undefined;
  if (headers !== undefined && whole !== undefined && headers > whole)
    problems.push(
      problem(
        SETTINGS.headersTimeout,
        `=${headers} is longer than ${name(SETTINGS.requestTimeout)}=${whole}`,
      ),
    );
  // No static key is fine: managed keys (`tessera keys bootstrap`) are the normal path; the node warns at
  // start when it has neither.
  let apiKey = s.apiKey;
  if (s.apiKeyFile !== undefined) {
    if (rawSetting(SETTINGS.apiKey, flags, env) !== undefined)
      problems.push(`set either ${SETTINGS.apiKey.env} or ${name(SETTINGS.apiKeyFile)}, not both`);
    else apiKey = readApiKeyFile(s.apiKeyFile, problems);
  }

  const quotas = quotaSettings(s, problems);
  const [warningMs, criticalMs] = [s.expiryWarning, s.expiryCritical];
  if (warningMs !== undefined && criticalMs !== undefined && criticalMs > warningMs)
    problems.push(
      `${name(SETTINGS.expiryCritical)} must not be longer than ${name(SETTINGS.expiryWarning)} (critical comes after warning)`,
    );
  const database = databaseSettingsFrom(s, problems);
  const grpc = grpcSettings(s, federation, federationEnabled, problems);

  if (problems.length === 1 && gateError) throw gateError;
  if (problems.length > 0) throw new ConfigError(problems);
  return {
    dataDir: s.dataDir as string,
    entityUri: s.entityUri as string,
    nodeUrl: nodeUrl as string,
    nodeUrlFromBind: !s.nodeUrl,
    federationHost: s.federationHost as string,
    federationPort: s.federationPort as number,
    grpc,
    apiHost,
    apiPort: s.apiPort as number,
    federation: federation as NodeConfig['federation'],
    federationEnabled,
    pushEnabled: s.pushEnabled ?? federationEnabled,
    dbPath: s.dbPath ?? databasePath(s.dataDir as string),
    tlogPath: s.tlLocalPath ?? tlogPath(s.dataDir as string),
    pidFile: s.pidFile,
    tlsExpiry: { warningMs: warningMs as number, criticalMs: criticalMs as number },
    tlsMinRemainingLifetimeMs: s.tlsMinRemainingLifetime as number,
    tlsCrl: { paths: s.tlsCrl as string[], stale: s.tlsCrlStale as 'fail' | 'warn' },
    apiTls: s.apiTls as ApiTls,
    apiBehindTrustedProxy: s.apiBehindTrustedProxy as boolean,
    trustedProxies: {
      proxies: (s.trustedProxies as string[] | undefined) ?? [],
      identities: (s.trustedProxyIdentities as string[] | undefined) ?? [],
      header: s.forwardedCertHeader as ForwardedCertHeader,
    },
    authRequired: s.authRequired as boolean,
    apiKey,
    authFailuresPerHour: s.authFailures as number,
    pullIntervalMs: s.pullInterval as number,
    wakeDebounceMs: s.wakeDebounce as number,
    maxClockSkewMs: s.maxClockSkew as number,
    database: database as DatabaseSettings,
    pull: {
      maxPagesPerCycle: s.maxPagesPerCycle as number,
      maxCycleMs: s.maxCycleMs as number,
      pageTimeoutMs: s.pageTimeout as number,
      connectTimeoutMs: s.connectTimeout as number,
    },
    attested: { maxBytes: s.maxAttestedBytes as number, maxDepth: s.maxAttestedDepth as number },
    connections: {
      handshakeTimeoutMs: s.handshakeTimeout as number,
      headersTimeoutMs: s.headersTimeout as number,
      requestTimeoutMs: s.requestTimeout as number,
      keepAliveTimeoutMs: s.keepAliveTimeout as number,
      maxConnections: s.maxConnections as number,
    },
    reforward: s.reforward as boolean,
    nodePrivateKey: s.nodePrivateKey,
    nodeKeyPath: s.nodeKeyPath,
    issuerPrivateKey: s.issuerPrivateKey,
    logLevel: s.logLevel as string,
    quotas: quotas as QuotaSettings,
  };
}

type Values = ReturnType<typeof readSettings<(typeof SERVE_SETTINGS)[number]>>;

/** The gRPC listener is off unless its port is set, and it is mutual TLS only (no insecure gRPC). */
function grpcSettings(
  s: Values,
  federation: NodeConfig['federation'] | undefined,
  federationEnabled: boolean,
  problems: string[],
): GrpcFederationSettings | null {
  if (s.federationGrpcPort === undefined) return null;
  const name = settingName(SETTINGS.federationGrpcPort);
  if (!federationEnabled) {
    problems.push(`${name} needs federation (${SETTINGS.federationEnabled.env} is false)`);
    return null;
  }
  if (federation && federation.mode !== 'mtls') {
    problems.push(
      `${name} needs the node's TLS material (TESSERA_TLS_CERT_PATH, _KEY_PATH, _CA_BUNDLE): gRPC federation is mutual TLS only`,
    );
    return null;
  }
  return {
    host: s.federationGrpcHost || (s.federationHost as string),
    port: s.federationGrpcPort as number,
    advertise: s.federationGrpcAdvertise,
    sendBufferPages: s.grpcSendBufferPages as number,
    stallTimeoutMs: s.grpcStallTimeout as number,
  };
}

/** Write and read at 0 switch every quota off, and only together and with the ACK. */
function quotaSettings(s: Values, problems: string[]): QuotaSettings | undefined {
  const { rateLimitWrite: w, rateLimitRead: r, rateLimitDisabledAck: ack } = SETTINGS;
  const [write, read] = [s.rateLimitWrite, s.rateLimitRead];
  // A rate that is itself invalid is reported already; the rules between rates need both.
  if (write === undefined || read === undefined) return undefined;
  const name = settingName;
  if ((write === 0) !== (read === 0))
    problems.push(
      `${name(w)} and ${name(r)} can only be 0 together, which switches every quota off (with ${name(ack)}=1); a single 0 would silently remove one limit, so give it a positive rate`,
    );
  const disabled = write === 0 && read === 0;
  if (disabled && s.rateLimitDisabledAck === false)
    problems.push(
      `${name(w)}=0 and ${name(r)}=0 switch every per-principal quota off: set ${name(ack)}=1 to confirm (a SECURITY WARNING is then logged at every start)`,
    );
  if (!disabled)
    for (const key of ['rateLimitFederationPull', 'rateLimitAdmin'] as const)
      if (s[key] === 0)
        problems.push(
          problem(
            SETTINGS[key],
            'must be at least 1 while quotas are on (0 is only accepted when every quota is switched off)',
          ),
        );
  return {
    writePerHour: write,
    readPerHour: read,
    federationPullPerHour: s.rateLimitFederationPull as number,
    adminPerHour: s.rateLimitAdmin as number,
    burst: s.rateLimitBurst as number,
    disabled,
  };
}

/** The gates of rule 7 name only the env variables; add each one's flag (same code) so flag users see theirs. */
function withFlagNames(error: TlsError): TlsError {
  const gated = [
    SETTINGS.insecure,
    SETTINGS.insecureNonLoopback,
    SETTINGS.tlsCert,
    SETTINGS.tlsKey,
    SETTINGS.tlsCa,
  ];
  let message = error.message.replace(`${error.code}: `, '');
  for (const setting of gated) {
    // A missing TLS path is named under both names; a switch's message quotes the name that was set.
    const alias =
      setting === SETTINGS.insecure || setting === SETTINGS.insecureNonLoopback
        ? undefined
        : aliasOf(setting);
    const named = alias ? settingName(setting).replace(/\)$/, `, or ${alias})`) : settingName(setting);
    message = message.replace(new RegExp(`\\b${setting.env}\\b`, 'g'), named);
  }
  return new TlsError(error.code, message, error.file);
}

function checkNodeUrl(
  value: string,
  scheme: string,
  setting: Setting,
  problems: string[],
): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    problems.push(
      problem(setting, `must be a URL such as ${scheme}://node.example.org:8765 (got "${redact(value)}")`),
    );
    return undefined;
  }
  if (url.protocol !== `${scheme}:`)
    problems.push(
      problem(setting, `must use ${scheme}:// with this federation transport (got "${redact(value)}")`),
    );
  else if (url.pathname !== '/' || url.search || url.hash || url.username || url.password)
    problems.push(
      problem(setting, `must be an origin only, without path, query or credentials (got "${redact(value)}")`),
    );
  return url.origin;
}

/** Drops anything that could be a secret (userinfo) from a URL before it is shown. */
function redact(value: string): string {
  return value.replace(/\/\/[^/@]*@/, '//***@');
}

/** The host part of a URL for a bind address (a wildcard bind is reached on loopback). */
export function urlHost(host: string): string {
  if (host === '0.0.0.0' || host === '::') return '127.0.0.1';
  return host.includes(':') ? `[${host}]` : host;
}

/** The static key from its file, checked like TESSERA_API_KEY; neither is ever echoed. */
function readApiKeyFile(file: string, problems: string[]): string | undefined {
  let content: string;
  try {
    content = readFileSync(file, 'utf8').trim();
  } catch (error) {
    problems.push(
      problem(SETTINGS.apiKeyFile, `: cannot read ${file} (${(error as NodeJS.ErrnoException).code})`),
    );
    return undefined;
  }
  const parsed = SETTINGS.apiKey.schema.safeParse(content);
  if (parsed.success) return parsed.data;
  for (const issue of parsed.error.issues) problems.push(problem(SETTINGS.apiKeyFile, issue.message));
  return undefined;
}
