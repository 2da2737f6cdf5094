// The node's settings, each declared once: its TESSERA_* variable, its `tessera serve` flag, the zod schema
// that parses it, its default and its help. Env parsing, the CLI options and --help, start-up validation
// and the README's configuration table are all derived from this table (see markdown.ts and
// src/cli/setting-options.ts); the cross-setting rules live in config.ts.
import type { z } from 'zod';
import * as schema from './schemas.ts';

export interface Setting<T = unknown> {
  /** The environment variable. */
  readonly env: string;
  /** The flag with its value name, e.g. `--data-dir <dir>`; absent for an env-only secret. */
  readonly flag?: string;
  /** Parses the trimmed text (the default when unset or blank; undefined when there is neither). */
  readonly schema: z.ZodType<T>;
  /** The value used when neither the flag nor the variable gives one. */
  readonly default?: string;
  /** How the docs describe a default that is not a fixed value (derived, or required). */
  readonly defaultText?: string;
  readonly help: string;
  /** Env-only (a flag would show in `ps`) and never echoed in an error. */
  readonly secret?: true;
  /** `client`: read by the API client commands (`tessera peers`), not by `tessera serve`. */
  readonly scope?: 'client';
}

/** Declares one setting, keeping its value type (inferred from the schema). */
const setting = <T>(declared: Setting<T>): Setting<T> => declared;

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
const rate = () => schema.wholeNumber(0, 10_000_000, 'a whole number of requests per hour');

export const SETTINGS = {
  dataDir: setting({
    env: 'TESSERA_DATA_DIR',
    flag: '--data-dir <dir>',
    schema: schema.directory,
    default: './tessera-data',
    help: 'node state: `tessera.db` (SQLite, WAL, 0600), `node-key.pem` (0600)',
  }),
  entityUri: setting({
    env: 'TESSERA_ENTITY_URI',
    flag: '--entity-uri <uri>',
    schema: schema.identityUri,
    defaultText: '— (required)',
    help: "this node's identity; must be a URI SAN of its TLS certificate",
  }),
  nodeUrl: setting({
    env: 'TESSERA_NODE_URL',
    flag: '--node-url <url>',
    schema: schema.advertisedUrl,
    defaultText: 'from the bind address',
    help: 'advertised federation URL (origin only, https://host:port)',
  }),
  federationHost: setting({
    env: 'TESSERA_FEDERATION_HOST',
    flag: '--federation-host <host>',
    schema: schema.text,
    default: '127.0.0.1',
    help: 'federation listener address',
  }),
  federationPort: setting({
    env: 'TESSERA_FEDERATION_PORT',
    flag: '--federation-port <port>',
    schema: schema.port,
    default: '8765',
    help: 'federation listener port (`0` = any free port)',
  }),
  federationGrpcPort: setting({
    env: 'TESSERA_FEDERATION_GRPC_PORT',
    flag: '--federation-grpc-port <port>',
    schema: schema.optionalPort,
    defaultText: 'off',
    help: 'gRPC federation listener port (`0` = any free port; needs TLS material); peers that offer gRPC too replicate over a server stream, others over HTTPS',
  }),
  federationGrpcHost: setting({
    env: 'TESSERA_FEDERATION_GRPC_HOST',
    flag: '--federation-grpc-host <host>',
    schema: schema.optionalText,
    defaultText: 'as `TESSERA_FEDERATION_HOST`',
    help: 'gRPC federation listener address',
  }),
  federationGrpcAdvertise: setting({
    env: 'TESSERA_FEDERATION_GRPC_ADVERTISE',
    flag: '--federation-grpc-advertise <host:port>',
    schema: schema.optionalHostPort,
    defaultText: 'from the bind address',
    help: 'the gRPC endpoint peers dial, published in the signed manifest (`endpoints.grpc`)',
  }),
  grpcSendBufferPages: setting({
    env: 'TESSERA_FEDERATION_GRPC_SEND_BUFFER_PAGES',
    flag: '--federation-grpc-send-buffer-pages <n>',
    schema: schema.wholeNumber(1, 64),
    default: '4',
    help: 'feed pages a gRPC stream may have written but not yet sent to a peer; at the cap the sender waits for the peer to read',
  }),
  grpcStallTimeout: setting({
    env: 'TESSERA_FEDERATION_GRPC_STALL_TIMEOUT_MS',
    flag: '--federation-grpc-stall-timeout-ms <ms>',
    schema: schema.wholeNumber(1000, 600_000, 'milliseconds'),
    default: '30000',
    help: 'a gRPC replication stream on which nothing moves this long (sender: peer not reading; receiver: no page or heartbeat) is cut and counted, then resumed from the stored cursor',
  }),
  apiHost: setting({
    env: 'TESSERA_API_HOST',
    flag: '--api-host <host>',
    schema: schema.text,
    default: '127.0.0.1',
    help: 'API listener address',
  }),
  apiPort: setting({
    env: 'TESSERA_API_PORT',
    flag: '--api-port <port>',
    schema: schema.port,
    default: '8780',
    help: 'API listener port (`0` = any free port)',
  }),
  tlsCert: setting({
    env: 'TESSERA_TLS_CERT_PATH',
    flag: '--tls-cert <file>',
    schema: schema.optionalText,
    help: 'node TLS certificate chain (PEM, leaf first), for federation and a TLS API; reloaded without restart',
  }),
  tlsKey: setting({
    env: 'TESSERA_TLS_KEY_PATH',
    flag: '--tls-key <file>',
    schema: schema.optionalText,
    help: 'node TLS private key (PEM); reloaded without restart',
  }),
  tlsCa: setting({
    env: 'TESSERA_TLS_CA_BUNDLE',
    flag: '--tls-ca <file>',
    schema: schema.optionalText,
    help: 'CA bundle that peers must chain to (PEM); reloaded without restart',
  }),
  tlsCrl: setting({
    env: 'TESSERA_TLS_CRL_PATH',
    flag: '--tls-crl <paths>',
    schema: schema.pathList,
    defaultText: 'none',
    help: 'CRLs (PEM or DER) of the CAs of the bundle: files or directories, separated by `:`; each must be signed by its CA in the bundle; reloaded with the TLS material, open connections of newly revoked peers are closed (docs/operator/revocation.md)',
  }),
  tlsCrlStale: setting({
    env: 'TESSERA_TLS_CRL_STALE',
    flag: '--tls-crl-stale <policy>',
    schema: schema.oneOf(['fail', 'warn'], 'fail or warn'),
    default: 'fail',
    help: "a CRL past its nextUpdate: `fail` refuses (and disconnects) that CA's peers (`crl_stale`) | `warn` accepts them with a warning and `tessera_tls_crl_stale_accepted_total`",
  }),
  databaseUrl: setting({
    env: 'TESSERA_DATABASE_URL',
    schema: schema.optionalText,
    defaultText: 'unset: SQLite in the data dir',
    help: '`postgres://user[:password]@host:port/db`: the PostgreSQL store (replicas share it); env only, the password is never logged',
    secret: true,
  }),
  databaseTls: setting({
    env: 'TESSERA_DATABASE_TLS',
    flag: '--database-tls <mode>',
    schema: schema.oneOf(['verify-full', 'off'], 'verify-full or off'),
    default: 'verify-full',
    help: 'PostgreSQL TLS: `verify-full` (server checked against the CA bundle and its name, our certificate presented) | `off` (loopback only, unless acknowledged as for insecure federation)',
  }),
  databaseCa: setting({
    env: 'TESSERA_DATABASE_CA_BUNDLE',
    flag: '--database-ca <file>',
    schema: schema.optionalText,
    defaultText: 'the node CA bundle',
    help: "CA bundle the database server's certificate must chain to (PEM)",
  }),
  databaseCert: setting({
    env: 'TESSERA_DATABASE_TLS_CERT_PATH',
    flag: '--database-tls-cert <file>',
    schema: schema.optionalText,
    defaultText: "the node's certificate",
    help: 'client certificate presented to the database (PEM); reloaded without restart',
  }),
  databaseKey: setting({
    env: 'TESSERA_DATABASE_TLS_KEY_PATH',
    flag: '--database-tls-key <file>',
    schema: schema.optionalText,
    defaultText: "the node's key",
    help: 'private key of the database client certificate (PEM); reloaded without restart',
  }),
  apiTls: setting({
    env: 'TESSERA_API_TLS',
    flag: '--api-tls <mode>',
    schema: schema.oneOf(['off', 'tls', 'mtls'], 'off, tls or mtls'),
    default: 'off',
    help: 'API listener TLS: `off` (loopback only) | `tls` | `mtls`',
  }),
  apiBehindTrustedProxy: setting({
    env: 'TESSERA_API_BEHIND_TRUSTED_PROXY',
    flag: '--api-behind-trusted-proxy <bool>',
    schema: schema.boolean,
    default: 'false',
    help: 'allow a plaintext API on a non-loopback address (a TLS-terminating proxy is in front)',
  }),
  trustedProxies: setting({
    env: 'TESSERA_TRUSTED_PROXIES',
    flag: '--trusted-proxies <cidrs>',
    schema: schema.cidrList,
    defaultText: 'none',
    help: 'comma-separated CIDR networks of proxies that terminate mTLS and forward the client certificate (and address); empty: none. From any other address the forwarded headers are removed and counted',
  }),
  trustedProxyIdentities: setting({
    env: 'TESSERA_TRUSTED_PROXY_IDENTITIES',
    flag: '--trusted-proxy-identities <uris>',
    schema: schema.uriList,
    defaultText: 'none',
    help: "comma-separated URI SANs of the proxies' own client certificates (the proxy-to-node hop is mTLS); when set, a trusted proxy needs one of them as well as its address",
  }),
  forwardedCertHeader: setting({
    env: 'TESSERA_FORWARDED_CERT_HEADER',
    flag: '--forwarded-cert-header <format>',
    schema: schema.oneOf(['xfcc', 'client-cert'], 'xfcc or client-cert'),
    default: 'xfcc',
    help: 'the header trusted proxies forward the client certificate in: `xfcc` (X-Forwarded-Client-Cert: nginx, Envoy, Caddy) | `client-cert` (RFC 9440 Client-Cert / Client-Cert-Chain: HAProxy); the other is never read',
  }),
  authRequired: setting({
    env: 'TESSERA_AUTH_REQUIRED',
    flag: '--auth-required <bool>',
    schema: schema.boolean,
    default: 'true',
    help: 'API keys required; `false` only with a loopback API',
  }),
  apiKey: setting({
    env: 'TESSERA_API_KEY',
    schema: schema.apiKey,
    secret: true,
    help: 'optional static bootstrap admin key (≥ 24 characters; managed keys from `tessera keys bootstrap` are the normal path); also the key the API client commands send',
  }),
  apiKeyFile: setting({
    env: 'TESSERA_API_KEY_FILE',
    flag: '--api-key-file <file>',
    schema: schema.optionalText,
    help: 'file holding the static API key instead of TESSERA_API_KEY',
  }),
  authFailures: setting({
    env: 'TESSERA_AUTH_FAILURES_PER_HOUR',
    flag: '--auth-failures-per-hour <n>',
    schema: schema.wholeNumber(1, 1_000_000),
    default: '120',
    help: 'failed API authentications one client address may make per hour; then `429 too_many_auth_failures` before any key lookup or hash',
  }),
  rateLimitWrite: setting({
    env: 'TESSERA_RATE_LIMIT_WRITE_PER_HOUR',
    flag: '--rate-limit-write-per-hour <n>',
    schema: rate(),
    default: '1000',
    help: 'fact writes per principal per hour (`fact_write` token bucket)',
  }),
  rateLimitRead: setting({
    env: 'TESSERA_RATE_LIMIT_READ_PER_HOUR',
    flag: '--rate-limit-read-per-hour <n>',
    schema: rate(),
    default: '5000',
    help: 'fact reads per principal per hour (`fact_read`)',
  }),
  rateLimitBurst: setting({
    env: 'TESSERA_RATE_LIMIT_BURST',
    flag: '--rate-limit-burst <n>',
    schema: schema.wholeNumber(1, 10_000_000),
    default: '100',
    help: 'fact writes (and, separately, reads) a principal may make at once; then the hourly rate refills the bucket (capped by each rate)',
  }),
  rateLimitFederationPull: setting({
    env: 'TESSERA_RATE_LIMIT_FEDERATION_PULL_PER_HOUR',
    flag: '--rate-limit-federation-pull-per-hour <n>',
    schema: rate(),
    default: '36000',
    help: 'feed pages per peer per hour',
  }),
  rateLimitAdmin: setting({
    env: 'TESSERA_RATE_LIMIT_ADMIN_PER_HOUR',
    flag: '--rate-limit-admin-per-hour <n>',
    schema: rate(),
    default: '600',
    help: 'admin requests per principal per hour',
  }),
  rateLimitDisabledAck: setting({
    env: 'TESSERA_RATE_LIMIT_DISABLED_ACK',
    flag: '--rate-limit-disabled-ack <bool>',
    schema: schema.boolean,
    default: 'false',
    help: 'write and read both `0` turn quotas off only with this set; a SECURITY WARNING is logged at every start',
  }),
  // The two switches of rule 7 are parsed by evaluateFederationSecurity, whose refusals carry TLS_* codes.
  insecure: setting({
    env: 'TESSERA_FEDERATION_INSECURE',
    flag: '--federation-insecure <bool>',
    schema: schema.optionalText,
    defaultText: '`false`',
    help: 'federation WITHOUT TLS, local development only (rule 7); logs a SECURITY WARNING, `tessera_insecure_mode 1`',
  }),
  insecureNonLoopback: setting({
    env: 'TESSERA_LOCAL_DEV_ALLOW_INSECURE_NON_LOOPBACK',
    flag: '--local-dev-allow-insecure-non-loopback <bool>',
    schema: schema.optionalText,
    defaultText: '`false`',
    help: 'second acknowledgement for a non-loopback insecure bind or URL',
  }),
  pullInterval: setting({
    env: 'TESSERA_FEDERATION_PULL_INTERVAL_S',
    flag: '--pull-interval <seconds>',
    schema: schema.seconds(0.05, 86_400),
    default: '30',
    help: 'federation pull cycle in seconds (0.05–86400); errors back off up to 10× (max 15 min)',
  }),
  wakeDebounce: setting({
    env: 'TESSERA_FEDERATION_WAKE_DEBOUNCE_MS',
    flag: '--wake-debounce-ms <ms>',
    schema: schema.milliseconds(60_000),
    default: '50',
    help: 'the first local write after a quiet spell wakes the peers at once; writes in the next N ms share one more wake',
  }),
  handshakeTimeout: setting({
    env: 'TESSERA_TLS_HANDSHAKE_TIMEOUT_MS',
    flag: '--tls-handshake-timeout-ms <ms>',
    schema: schema.wholeNumber(100, 600_000, 'milliseconds'),
    default: '10000',
    help: 'a connection that has not finished its TLS handshake in this time is closed (both listeners)',
  }),
  headersTimeout: setting({
    env: 'TESSERA_HTTP_HEADERS_TIMEOUT_MS',
    flag: '--http-headers-timeout-ms <ms>',
    schema: schema.wholeNumber(100, 600_000, 'milliseconds'),
    default: '10000',
    help: 'a request whose headers have not all arrived in this time gets 408 and is closed',
  }),
  requestTimeout: setting({
    env: 'TESSERA_HTTP_REQUEST_TIMEOUT_MS',
    flag: '--http-request-timeout-ms <ms>',
    schema: schema.wholeNumber(100, 3_600_000, 'milliseconds'),
    default: '30000',
    help: 'a request (headers and body) not received in full in this time gets 408 and is closed',
  }),
  keepAliveTimeout: setting({
    env: 'TESSERA_HTTP_KEEP_ALIVE_TIMEOUT_MS',
    flag: '--http-keep-alive-timeout-ms <ms>',
    schema: schema.wholeNumber(100, 600_000, 'milliseconds'),
    default: '65000',
    help: 'an idle keep-alive connection is closed after this time (longer than peers keep theirs, 30 s)',
  }),
  maxConnections: setting({
    env: 'TESSERA_MAX_CONNECTIONS',
    flag: '--max-connections <n>',
    schema: schema.wholeNumber(1, 1_000_000),
    default: '1024',
    help: 'open connections per listener; over it a new connection is closed at once (established ones are unaffected)',
  }),
  maxPagesPerCycle: setting({
    env: 'TESSERA_FEDERATION_MAX_PAGES_PER_CYCLE',
    flag: '--federation-max-pages-per-cycle <n>',
    schema: schema.wholeNumber(1, 1_000_000),
    default: '1000',
    help: 'feed pages pulled from one peer per cycle; a capped cycle that stored facts goes on at once, one that stored none waits for the next interval',
  }),
  maxCycleMs: setting({
    env: 'TESSERA_FEDERATION_MAX_CYCLE_MS',
    flag: '--federation-max-cycle-ms <ms>',
    schema: schema.wholeNumber(100, 3_600_000, 'milliseconds'),
    default: '60000',
    help: 'a pull cycle from one peer ends after the page in flight once it has run this long',
  }),
  pageTimeout: setting({
    env: 'TESSERA_FEDERATION_PAGE_TIMEOUT_MS',
    flag: '--federation-page-timeout-ms <ms>',
    schema: schema.wholeNumber(100, 600_000, 'milliseconds'),
    default: '60000',
    help: 'total deadline for one call to a peer (connect to last byte), however slowly it trickles',
  }),
  connectTimeout: setting({
    env: 'TESSERA_FEDERATION_CONNECT_TIMEOUT_MS',
    flag: '--federation-connect-timeout-ms <ms>',
    schema: schema.wholeNumber(100, 600_000, 'milliseconds'),
    default: '10000',
    help: 'outgoing calls to a peer: TCP connect and TLS handshake must finish within this',
  }),
  maxAttestedBytes: setting({
    env: 'TESSERA_FEDERATION_MAX_ATTESTED_BYTES',
    flag: '--federation-max-attested-bytes <n>',
    schema: schema.wholeNumber(0, 1_048_576, 'bytes'),
    default: '16384',
    help: "a peer's fact whose `attested` is larger as JSON is refused (validation_failed)",
  }),
  maxAttestedDepth: setting({
    env: 'TESSERA_FEDERATION_MAX_ATTESTED_DEPTH',
    flag: '--federation-max-attested-depth <n>',
    schema: schema.wholeNumber(1, 32),
    default: '8',
    help: "a peer's fact whose `attested` nests deeper is refused (validation_failed)",
  }),
  maxClockSkew: setting({
    env: 'TESSERA_FEDERATION_MAX_CLOCK_SKEW_MS',
    flag: '--federation-max-clock-skew-ms <ms>',
    schema: schema.milliseconds(86_400_000),
    default: '60000',
    help: "a peer's fact whose HLC is further ahead of this node's wall clock is refused (clock_skew)",
  }),
  reforward: setting({
    env: 'TESSERA_FEDERATION_REFORWARD',
    flag: '--reforward <bool>',
    schema: schema.boolean,
    default: 'false',
    help: 'also serve facts received from other peers',
  }),
  nodePrivateKey: setting({
    env: 'TESSERA_NODE_PRIVATE_KEY',
    schema: schema.optionalText,
    secret: true,
    defaultText: 'created in the data dir',
    help: 'node Ed25519 key as a base64url 32-byte seed; `tessera identity rotate-key --kind node` prints the next one',
  }),
  nodeKeyPath: setting({
    env: 'TESSERA_NODE_KEY_PATH',
    flag: '--node-key-path <file>',
    schema: schema.optionalText,
    defaultText: '`<data dir>/node-key.pem`',
    help: 'node Ed25519 key as a PKCS#8 PEM file (must not be group/world readable)',
  }),
  // Issue 12 (Stigmem drop-in): each of these is also read under its STIGMEM_* name (aliases.ts).
  issuerPrivateKey: setting({
    env: 'TESSERA_ISSUER_PRIVATE_KEY',
    schema: schema.ed25519Seed,
    secret: true,
    defaultText: 'created in the data dir',
    help: 'capability issuer Ed25519 key as a base64url 32-byte seed; `tessera identity rotate-key --kind issuer` prints the next one',
  }),
  federationEnabled: setting({
    env: 'TESSERA_FEDERATION_ENABLED',
    flag: '--federation-enabled <bool>',
    schema: schema.boolean,
    default: 'true',
    help: '`false`: a single node with no federation listener, no puller and no wakes; TLS material is then optional',
  }),
  pushEnabled: setting({
    env: 'TESSERA_FEDERATION_PUSH_ENABLED',
    flag: '--federation-push-enabled <bool>',
    schema: schema.optionalBoolean,
    defaultText: 'as `TESSERA_FEDERATION_ENABLED`',
    help: 'wake approved peers after local writes so they pull at once (`false`: peers pull on their interval); `true` needs federation',
  }),
  dbPath: setting({
    env: 'TESSERA_DB_PATH',
    flag: '--db-path <file>',
    schema: schema.optionalPath,
    defaultText: '`<data dir>/tessera.db`',
    help: 'the SQLite database file',
  }),
  tlBackend: setting({
    env: 'TESSERA_TL_BACKEND',
    flag: '--tl-backend <backend>',
    schema: schema.oneOf(
      ['local'],
      'local: the transparency log is a local hash-chained file (TESSERA_TL_LOCAL_PATH); external backends such as rekor are not supported',
    ),
    default: 'local',
    help: 'transparency log of manifests and key rotations: only `local`',
  }),
  tlLocalPath: setting({
    env: 'TESSERA_TL_LOCAL_PATH',
    flag: '--tl-local-path <file>',
    schema: schema.optionalPath,
    defaultText: '`<data dir>/tlog.jsonl`',
    help: 'the local transparency log file (append-only JSON lines; `tessera tlog verify` checks it)',
  }),
  pidFile: setting({
    env: 'TESSERA_PID_FILE',
    flag: '--pid-file <file>',
    schema: schema.optionalPath,
    defaultText: 'none',
    help: 'the node writes its process id here at start (0644, atomically) and removes it at exit: `kill -HUP $(cat FILE)` reloads TLS material and keys',
  }),
  expiryWarning: setting({
    env: 'TESSERA_TLS_EXPIRY_WARNING',
    flag: '--tls-expiry-warning <duration>',
    schema: schema.hoursOrDays(3650),
    default: '30d',
    help: 'a certificate (own leaf, chain, CA, peer) this close to its end logs a warning `tls_cert_expiry` event; hours or days (`12h`, `30d`)',
  }),
  expiryCritical: setting({
    env: 'TESSERA_TLS_EXPIRY_CRITICAL',
    flag: '--tls-expiry-critical <duration>',
    schema: schema.hoursOrDays(3650),
    default: '7d',
    help: 'as the warning window, logged as an error (`critical`); at most the warning window. For 24 h certificates try `12h` / `4h`',
  }),
  tlsMinRemainingLifetime: setting({
    env: 'TESSERA_TLS_MIN_REMAINING_LIFETIME',
    flag: '--tls-min-remaining-lifetime <duration>',
    schema: schema.hoursOrDays(3650),
    default: '0h',
    help: 'validity floor: a certificate with less left than this is refused at start, and on reload the old one stays (warning, `tls_reload_total{result="failure",reason="TLS_LIFETIME_TOO_SHORT"}`); hours or days, `0h` off. For 24 h certificates try `1h`',
  }),
  logLevel: setting({
    env: 'TESSERA_LOG_LEVEL',
    flag: '--log-level <level>',
    schema: schema.oneOf(LOG_LEVELS, `one of ${LOG_LEVELS.join(', ')}`),
    default: 'info',
    help: 'pino log level (the demo defaults to `error`)',
  }),
  apiUrl: setting({
    env: 'TESSERA_API_URL',
    flag: '--api <url>',
    schema: schema.httpUrl,
    default: 'http://127.0.0.1:8780',
    scope: 'client',
    help: 'the node API that the `tessera peers` commands talk to',
  }),
};

export type SettingKey = keyof typeof SETTINGS;
export type SettingValue<K extends SettingKey> = z.output<(typeof SETTINGS)[K]['schema']>;
export type SettingValues<K extends SettingKey> = { [P in K]: SettingValue<P> };

/** Every setting `tessera serve` reads (all but the client-only ones), in table order. */
export const SERVE_SETTINGS = (Object.keys(SETTINGS) as SettingKey[]).filter(
  (key) => (SETTINGS[key] as Setting).scope !== 'client',
);
