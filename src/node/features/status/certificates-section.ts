// "Certificate expiry": a timeline of every certificate the expiry monitor follows (our leaf, the served
// chain's soonest end when it is not the leaf, each CA of the bundle, the peers seen in handshakes),
// soonest first, each at the monitor's level (ok / warning / critical / expired) for the configured windows.
// Each CRL the node loaded (TESSERA_TLS_CRL_PATH) is on the timeline too, at its nextUpdate (kind "crl").
import type { ExpiryMonitor, TrackedCertificate } from '../../../tls/expiry.ts';
import { iso, secondsBetween } from './time.ts';

export type CertificateKind = 'leaf' | 'chain' | 'ca' | 'peer' | 'crl';

function kindAndName(cert: TrackedCertificate): { kind: CertificateKind; name: string } {
  if (cert.cert === 'leaf') return { kind: 'leaf', name: 'this node' };
  if (cert.cert === 'chain_min') return { kind: 'chain', name: cert.subject };
  if (cert.cert.startsWith('ca:')) return { kind: 'ca', name: cert.subject };
  if (cert.cert.startsWith('crl:')) return { kind: 'crl', name: cert.cert };
  return { kind: 'peer', name: cert.cert.slice('peer:'.length) };
}

export function certificatesSection(expiry: ExpiryMonitor | null, nowMs: number) {
  if (!expiry) return { tls: false, warning_seconds: null, critical_seconds: null, crls: [], entries: [] };
  const tracked = expiry.tracked();
  const leaf = tracked.find((c) => c.cert === 'leaf');
  const entries = tracked
    // The served chain's soonest end is news only when it is not the leaf's own.
    .filter(
      (c) =>
        c.cert !== 'chain_min' ||
        !leaf ||
        c.subject !== leaf.subject ||
        c.notAfter.getTime() !== leaf.notAfter.getTime(),
    )
    .sort((a, b) => a.notAfter.getTime() - b.notAfter.getTime())
    .map((c) => ({
      ...kindAndName(c),
      subject: c.subject,
      not_after: iso(c.notAfter.getTime()),
      seconds_left: secondsBetween(nowMs, c.notAfter.getTime()),
      level: c.level,
    }));
  const crls = tracked
    .filter((c) => c.cert.startsWith('crl:'))
    .map((c) => ({ issuer: c.subject, next_update: iso(c.notAfter.getTime()), level: c.level }));
  const { warningMs, criticalMs } = expiry.windows;
  return {
    tls: true,
    warning_seconds: Math.round(warningMs / 1000),
    critical_seconds: Math.round(criticalMs / 1000),
    /** The CRLs the node checks, each at its nextUpdate (also on the timeline as kind "crl"). */
    crls: crls as { issuer: string; next_update: string | null; level: string }[],
    entries,
  };
}
