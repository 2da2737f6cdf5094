// Human-readable rendering of a probe result.
import type { ProbeResult } from '../transport/probe.ts';

export function formatProbe(result: ProbeResult): string {
  const lines = [
    `target:        ${result.target}`,
    `protocol:      ${result.protocol ?? '-'}  cipher: ${result.cipher ?? '-'}`,
    `chain:         ${result.chainVerified ? 'verified against the CA bundle' : `NOT verified (${result.verifyError})`}`,
  ];
  if (result.identity) {
    const id = result.identity;
    lines.push(
      `server URIs:   ${id.uris.join(', ') || 'none'}`,
      `server DNS/IP: ${[...id.dnsNames, ...id.ips].join(', ') || 'none'}`,
      `subject:       ${id.subject}`,
      `issuer:        ${id.issuer}`,
      `serial:        ${id.serial}`,
      `expires:       ${id.notAfter.toISOString()}`,
      `fingerprint:   sha256:${id.fingerprint256}`,
      `SPKI:          sha256:${id.spkiSha256}`,
    );
  }
  result.chain.forEach((cert, index) => {
    lines.push(`chain[${index}]:      ${cert.subject} (issuer ${cert.issuer}), expires ${cert.notAfter}`);
  });
  if (result.expectedUri) lines.push(`expected URI:  ${result.expectedUri}`);
  lines.push(
    `server kept us: ${result.serverAcceptedUs === null ? 'unknown' : result.serverAcceptedUs ? 'yes' : `no (${result.serverRefusal})`}`,
  );
  lines.push(result.authorized ? 'AUTHORIZED' : `NOT AUTHORIZED: ${result.reasons.join('; ')}`);
  return `${lines.join('\n')}\n`;
}
