// Settings: the loader `tessera serve` runs (loadConfig), its refusals turned into findings instead of an
// exit; and, whatever else is wrong, the values the other checks need (TLS paths, entity URI, expiry
// windows), read by the same reader so that flags, variables and STIGMEM_* aliases mean the same here.
import { TlsError } from '../../tls/errors.ts';
import type { Logger } from '../../tls/logger.ts';
import type { MaterialPaths } from '../../tls/material.ts';
import { loadConfig, type NodeConfig } from '../settings/config.ts';
import { aliasConflict, ConfigError, type Env, type Flags, readSettings } from '../settings/read.ts';
import { SERVE_SETTINGS, SETTINGS } from '../settings/table.ts';
import { isDoctorCode } from './catalog.ts';
import { type Finding, finding, withoutCode } from './finding.ts';

export interface SettingsOutcome {
  findings: Finding[];
  /** All three TLS paths, when given (valid or not, the files are worth checking). */
  tls: MaterialPaths | undefined;
  entityUri: string | undefined;
  /** Expiry windows in ms (the defaults when the settings are invalid: that is reported already). */
  expiry: { warningMs: number; criticalMs: number };
  /** The validity floor (TESSERA_TLS_MIN_REMAINING_LIFETIME) in ms; 0 when off or invalid. */
  minRemainingLifetimeMs: number;
  /** How federation would run; undefined when the settings loader refused. */
  federation: NodeConfig['federation']['mode'] | undefined;
  pidFile: string | undefined;
  /** CRL files / directories (TESSERA_TLS_CRL_PATH) and the stale policy (fail when invalid: reported already). */
  crl: { paths: string[]; stale: 'fail' | 'warn' };
}

const NEEDED = [
  'tlsCert',
  'tlsKey',
  'tlsCa',
  'entityUri',
  'expiryWarning',
  'expiryCritical',
  'tlsMinRemainingLifetime',
  'pidFile',
  'tlsCrl',
  'tlsCrlStale',
] as const;

// The insecure gate warns through the logger; doctor reports that as a finding instead.
const quiet: Logger = { info() {}, warn() {}, error() {}, debug() {} };

export function checkSettings(flags: Flags, env: Env): SettingsOutcome {
  const findings: Finding[] = [];
  let config: NodeConfig | undefined;
  try {
    config = loadConfig(flags, env, quiet);
  } catch (error) {
    const problems =
      error instanceof ConfigError ? error.problems : error instanceof TlsError ? [error.message] : undefined;
    if (!problems) throw error;
    const conflicts = new Set(SERVE_SETTINGS.map((key) => aliasConflict(SETTINGS[key], env)));
    findings.push(...withoutEcho(problems.map((problem) => settingFinding(problem, conflicts))));
  }
  if (config?.federation.mode === 'insecure')
    findings.push(
      finding(
        'FEDERATION_INSECURE',
        SETTINGS.insecure.env,
        'federation is configured without TLS: peers are not authenticated, and the node logs a SECURITY WARNING at start',
      ),
    );

  const s = readSettings(NEEDED, flags, env, []);
  const tls =
    s.tlsCert && s.tlsKey && s.tlsCa
      ? { certPath: s.tlsCert, keyPath: s.tlsKey, caPath: s.tlsCa }
      : undefined;
  return {
    findings,
    tls,
    entityUri: s.entityUri,
    expiry: {
      warningMs: s.expiryWarning ?? fallback(SETTINGS.expiryWarning),
      criticalMs: s.expiryCritical ?? fallback(SETTINGS.expiryCritical),
    },
    minRemainingLifetimeMs: s.tlsMinRemainingLifetime ?? 0,
    federation: config?.federation.mode,
    pidFile: s.pidFile,
    crl: { paths: s.tlsCrl ?? [], stale: s.tlsCrlStale ?? 'fail' },
  };
}

/**
 * One refused setting. The insecure gates' problems carry their TLS_* code in front (a TlsError's
 * message); an alias conflict is the reader's own sentence; everything else is SETTINGS_INVALID.
 */
function settingFinding(problem: string, conflicts: Set<string | undefined>): Finding {
  const subject = /\b(?:TESSERA|STIGMEM)_[A-Z0-9_]+\b/.exec(problem)?.[0] ?? 'settings';
  const coded = /^(TLS_[A-Z_]+): /.exec(problem)?.[1];
  if (coded && isDoctorCode(coded)) return finding(coded, subject, withoutCode(problem, coded));
  if (conflicts.has(problem)) return finding('SETTINGS_ALIAS_CONFLICT', subject, problem);
  return finding('SETTINGS_INVALID', subject, problem);
}

/**
 * A TLS path refused on its own (say, two names set differently) also reads as missing to the federation
 * gate, whose "federation requires mutual TLS" would only repeat it: that echo is left out.
 */
function withoutEcho(findings: Finding[]): Finding[] {
  const paths = new Set([SETTINGS.tlsCert.env, SETTINGS.tlsKey.env, SETTINGS.tlsCa.env]);
  const pathRefused = findings.some((f) => f.code !== 'TLS_CONFIG_INVALID' && paths.has(f.subject));
  return findings.filter(
    (f) => !(pathRefused && f.code === 'TLS_CONFIG_INVALID' && f.message.includes('requires mutual TLS')),
  );
}

function fallback(setting: typeof SETTINGS.expiryWarning): number {
  return setting.schema.parse(setting.default);
}
