// Rule 7: federation without TLS exists only for local development. It needs TESSERA_FEDERATION_INSECURE=1,
// and both the bind address and the advertised URL must be loopback unless a second acknowledgement
// (TESSERA_LOCAL_DEV_ALLOW_INSECURE_NON_LOOPBACK=1) is given. Anything contradictory fails closed.
import { BlockList, isIP } from 'node:net';
import { TlsError } from './errors.ts';
import { defaultLogger, type Logger } from './logger.ts';
import type { TlsMetrics } from './metrics.ts';

export const INSECURE_FLAG = 'TESSERA_FEDERATION_INSECURE';
export const NON_LOOPBACK_FLAG = 'TESSERA_LOCAL_DEV_ALLOW_INSECURE_NON_LOOPBACK';

export interface FederationSecurityInput {
  env: Record<string, string | undefined>;
  bindHost: string;
  advertisedUrl?: string | undefined;
  /** Sets tessera_insecure_mode there when given. */
  metrics?: TlsMetrics;
  tls: { certPath?: string | undefined; keyPath?: string | undefined; caPath?: string | undefined };
  logger?: Logger;
}

export type FederationSecurity =
  | { mode: 'mtls'; certPath: string; keyPath: string; caPath: string }
  | { mode: 'insecure' };

const loopback = new BlockList();
loopback.addSubnet('127.0.0.0', 8, 'ipv4');
loopback.addAddress('::1', 'ipv6');

/** True for literal loopback addresses and "localhost"; other names are not resolved (fail closed). */
export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  if (bare === 'localhost') return true;
  const mapped = bare.match(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/)?.[1];
  const address = mapped ?? bare;
  const family = isIP(address);
  if (family === 0) return false;
  return loopback.check(address, family === 4 ? 'ipv4' : 'ipv6');
}

export function parseFlag(env: Record<string, string | undefined>, name: string): boolean {
  const raw = env[name]?.trim().toLowerCase();
  if (raw === undefined || raw === '' || raw === '0' || raw === 'false') return false;
  if (raw === '1' || raw === 'true') return true;
  throw new TlsError('TLS_CONFIG_INVALID', `${name} must be 1/true or 0/false (got "${env[name]}")`);
}

export function evaluateFederationSecurity(input: FederationSecurityInput): FederationSecurity {
  const logger = input.logger ?? defaultLogger();
  const insecure = parseFlag(input.env, INSECURE_FLAG);
  const allowNonLoopback = parseFlag(input.env, NON_LOOPBACK_FLAG);
  const { certPath, keyPath, caPath } = input.tls;
  const given = [certPath, keyPath, caPath].filter(Boolean).length;

  if (!insecure) {
    if (allowNonLoopback) {
      throw new TlsError(
        'TLS_CONFIG_INVALID',
        `${NON_LOOPBACK_FLAG} is set but ${INSECURE_FLAG} is not; unset ${NON_LOOPBACK_FLAG}`,
      );
    }
    if (given < 3 || !certPath || !keyPath || !caPath) {
      const missing = [
        ['TESSERA_TLS_CERT_PATH', certPath],
        ['TESSERA_TLS_KEY_PATH', keyPath],
        ['TESSERA_TLS_CA_BUNDLE', caPath],
      ]
        .filter(([, value]) => !value)
        .map(([name]) => name)
        .join(', ');
      throw new TlsError(
        'TLS_CONFIG_INVALID',
        `federation requires mutual TLS: set ${missing} (or ${INSECURE_FLAG}=1 for local development only)`,
      );
    }
    input.metrics?.insecureMode.set(0);
    return { mode: 'mtls', certPath, keyPath, caPath };
  }

  if (given > 0) {
    throw new TlsError(
      'TLS_INSECURE_REFUSED',
      `${INSECURE_FLAG}=1 contradicts the TLS paths that are also set; configure one or the other`,
    );
  }
  const nonLoopback = [
    ['bind address', input.bindHost],
    ['advertised URL', input.advertisedUrl === undefined ? undefined : hostOf(input.advertisedUrl)],
  ].filter(([, host]) => host !== undefined && !isLoopbackHost(host));
  if (nonLoopback.length > 0 && !allowNonLoopback) {
    const which = nonLoopback.map(([what, host]) => `${what} ${host}`).join(' and ');
    throw new TlsError(
      'TLS_INSECURE_REFUSED',
      `${INSECURE_FLAG}=1 is allowed only on loopback, but the ${which} is not loopback; use mTLS (or also set ${NON_LOOPBACK_FLAG}=1 on an isolated dev network)`,
    );
  }
  logger.warn(
    {
      event: 'insecure_mode',
      bindHost: input.bindHost,
      advertisedUrl: input.advertisedUrl,
      nonLoopback: nonLoopback.length > 0,
    },
    `SECURITY WARNING: federation is running WITHOUT TLS (${INSECURE_FLAG}=1); peers are not authenticated. Local development only.`,
  );
  input.metrics?.insecureMode.set(1);
  return { mode: 'insecure' };
}

function hostOf(url: string): string {
  try {
    return new URL(url).hostname;
  } catch {
    throw new TlsError('TLS_CONFIG_INVALID', `advertised URL "${url}" is not a valid URL`);
  }
}
