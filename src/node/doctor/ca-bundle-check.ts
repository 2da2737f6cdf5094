// The CA bundle, certificate by certificate: parsing and validity are the core's (material-check.ts); here,
// what only an operator's eye would catch: copies of one CA, a certificate that is no CA at all (it can
// anchor nothing), and CAs close to their end.
import type { Clock } from '../../tls/clock.ts';
import type { ParsedCertificate } from '../../tls/x509.ts';
import { type ExpiryWindows, expiryFindings } from './expiry-check.ts';
import { type Finding, finding } from './finding.ts';

export function checkCaBundle(
  cas: readonly ParsedCertificate[],
  caPath: string,
  options: { expiry: ExpiryWindows; clock: Clock },
): Finding[] {
  const findings: Finding[] = [];
  const seen = new Map<string, number>();
  cas.forEach((ca, index) => {
    const position = `#${index + 1}`;
    const first = seen.get(ca.fingerprint256);
    if (first !== undefined) {
      findings.push(
        finding(
          'TLS_CA_DUPLICATE',
          caPath,
          `certificate ${position} of ${caPath} (${ca.subject}) is a copy of certificate #${first}`,
        ),
      );
      return;
    }
    seen.set(ca.fingerprint256, index + 1);
    if (!ca.isCa)
      findings.push(
        finding(
          'TLS_CA_NOT_A_CA',
          caPath,
          `certificate ${position} of ${caPath} (${ca.subject}) is not a CA certificate (no basicConstraints CA:TRUE)`,
        ),
      );
  });
  const unique = cas.filter(
    (ca, index) => cas.findIndex((c) => c.fingerprint256 === ca.fingerprint256) === index,
  );
  findings.push(
    ...expiryFindings(
      unique.map((cert) => ({ cert, file: caPath })),
      'ca',
      options.expiry,
      options.clock,
    ),
  );
  return findings;
}
