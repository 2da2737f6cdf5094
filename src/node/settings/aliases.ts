// The Stigmem names of our settings (issue 12), so an operator's existing environment works unchanged.
// Kept apart from table.ts (one entry per setting there); read.ts reads an alias when the setting's own
// variable and flag are unset, and refuses the two names set to different values. Both README and --help
// show each alias beside its setting.
import { SETTINGS, type Setting, type SettingKey } from './table.ts';

export const STIGMEM_ALIASES = {
  tlsCert: 'STIGMEM_TLS_CERT_PATH',
  tlsKey: 'STIGMEM_TLS_KEY_PATH',
  tlsCa: 'STIGMEM_TLS_CA_BUNDLE',
  insecure: 'STIGMEM_FEDERATION_INSECURE',
  insecureNonLoopback: 'STIGMEM_LOCAL_DEV_ALLOW_INSECURE_NON_LOOPBACK',
  federationEnabled: 'STIGMEM_FEDERATION_ENABLED',
  pushEnabled: 'STIGMEM_FEDERATION_PUSH_ENABLED',
  rateLimitWrite: 'STIGMEM_RATE_LIMIT_WRITE_PER_HOUR',
  rateLimitRead: 'STIGMEM_RATE_LIMIT_READ_PER_HOUR',
  apiKey: 'STIGMEM_ADMIN_KEY',
  nodePrivateKey: 'STIGMEM_NODE_PRIVATE_KEY',
  issuerPrivateKey: 'STIGMEM_ISSUER_PRIVATE_KEY',
  dbPath: 'STIGMEM_DB_PATH',
  tlBackend: 'STIGMEM_TL_BACKEND',
  tlLocalPath: 'STIGMEM_TL_LOCAL_PATH',
} as const satisfies Partial<Record<SettingKey, string>>;

const BY_ENV = new Map<string, string>(
  Object.entries(STIGMEM_ALIASES).map(([key, alias]) => [SETTINGS[key as SettingKey].env, alias]),
);

/** The Stigmem variable that also sets this setting, if any. */
export function aliasOf(setting: Setting): string | undefined {
  return BY_ENV.get(setting.env);
}
