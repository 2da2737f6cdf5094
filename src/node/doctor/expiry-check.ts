// Remaining lifetime against the node's expiry windows (TESSERA_TLS_EXPIRY_WARNING / _CRITICAL), judged by
// the same ExpiryMonitor the running node uses. Certificates already past notAfter are the core's
// TLS_CERT_EXPIRED; this reports the ones still valid but close to their end.
import type { Clock } from '../../tls/clock.ts';
import { ExpiryMonitor } from '../../tls/expiry.ts';
import type { ParsedCertificate } from '../../tls/x509.ts';
import { type Finding, finding } from './finding.ts';

const DAY_MS = 86_400_000;
/** The core's allowance before notAfter counts as expired (material.ts). */
const SKEW_MS = 5 * 60_000;

export interface ExpiryWindows {
  warningMs: number;
  criticalMs: number;
}

export function expiryFindings(
  certs: readonly { cert: ParsedCertificate; file: string }[],
  kind: 'cert' | 'ca',
  windows: ExpiryWindows,
  clock: Clock,
): Finding[] {
  const monitor = new ExpiryMonitor({
    warningDays: windows.warningMs / DAY_MS,
    criticalDays: windows.criticalMs / DAY_MS,
    checkIntervalMs: 0,
    clock,
  });
  const now = clock().getTime();
  const findings: Finding[] = [];
  for (const { cert, file } of certs) {
    if (cert.notAfter.getTime() + SKEW_MS < now) continue;
    const level = monitor.levelOf(cert.notAfter);
    if (level === 'ok') continue;
    const critical = level !== 'warning';
    const code =
      kind === 'ca'
        ? critical
          ? 'TLS_CA_EXPIRY_CRITICAL'
          : 'TLS_CA_EXPIRES_SOON'
        : critical
          ? 'TLS_CERT_EXPIRY_CRITICAL'
          : 'TLS_CERT_EXPIRES_SOON';
    const window = critical ? 'TESSERA_TLS_EXPIRY_CRITICAL' : 'TESSERA_TLS_EXPIRY_WARNING';
    findings.push(
      finding(
        code,
        file,
        `${kind === 'ca' ? 'CA' : 'certificate'} ${cert.subject} in ${file} expires ${cert.notAfter.toISOString()}, in ${remaining(cert.notAfter.getTime() - now)} (inside ${window}, ${span(critical ? windows.criticalMs : windows.warningMs)})`,
      ),
    );
  }
  monitor.close();
  return findings;
}

/** "3 days 4 hours", "5 hours", "12 minutes". */
export function remaining(ms: number): string {
  if (ms <= 0) return 'no time: it has expired';
  const days = Math.floor(ms / DAY_MS);
  const hours = Math.floor((ms % DAY_MS) / 3_600_000);
  if (days > 0) return `${days} day${days === 1 ? '' : 's'}${hours ? ` ${hours} h` : ''}`;
  if (hours > 0) return `${hours} h`;
  return `${Math.max(1, Math.floor(ms / 60_000))} min`;
}

function span(ms: number): string {
  return ms % DAY_MS === 0 ? `${ms / DAY_MS}d` : `${Math.round(ms / 3_600_000)}h`;
}
