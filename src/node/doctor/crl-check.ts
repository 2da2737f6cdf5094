// The CRLs of TESSERA_TLS_CRL_PATH as the node would load them: each readable, a CRL, issued by a CA of our
// bundle and signed by its key (else the node refuses to start, and a reload keeps the old material), and
// each one's nextUpdate: passed (its CA's peers refused under the `fail` policy) or inside the warning
// window. The CRLs that load are returned so a peer's certificate can be judged against them.
import type { Clock } from '../../tls/clock.ts';
import { type CrlStalePolicy, inspectCrls, type LoadedCrl, readCrlFiles } from '../../tls/crl.ts';
import { TlsError } from '../../tls/errors.ts';
import type { ParsedCertificate } from '../../tls/x509.ts';
import { type Finding, finding, withoutCode } from './finding.ts';

export interface CrlCheckOptions {
  stale: CrlStalePolicy;
  expiry: { warningMs: number };
  clock: Clock;
}

export async function checkCrls(
  paths: readonly string[],
  cas: readonly ParsedCertificate[],
  options: CrlCheckOptions,
): Promise<{ findings: Finding[]; crls: LoadedCrl[] }> {
  const findings: Finding[] = [];
  let files: Awaited<ReturnType<typeof readCrlFiles>>;
  try {
    files = await readCrlFiles(paths);
  } catch (error) {
    if (!(error instanceof TlsError)) throw error;
    return { findings: [coded(error, paths[0] ?? 'CRL')], crls: [] };
  }
  const { crls, problems } = await inspectCrls(files, cas);
  findings.push(...problems.map((problem) => coded(problem, problem.file ?? paths[0] ?? 'CRL')));
  const now = options.clock().getTime();
  for (const crl of crls) {
    if (!crl.nextUpdate) continue;
    const due = crl.nextUpdate.toISOString();
    if (crl.nextUpdate.getTime() <= now)
      findings.push(
        finding(
          'TLS_CRL_STALE',
          crl.file,
          options.stale === 'fail'
            ? `the CRL of ${crl.issuer} was due for renewal at ${due}: every peer of that CA is refused (crl_stale)`
            : `the CRL of ${crl.issuer} was due for renewal at ${due}: its peers are accepted only because TESSERA_TLS_CRL_STALE=warn`,
        ),
      );
    else if (crl.nextUpdate.getTime() - now <= options.expiry.warningMs)
      findings.push(
        finding(
          'TLS_CRL_NEAR_STALE',
          crl.file,
          `the CRL of ${crl.issuer} is due for renewal at ${due}${options.stale === 'fail' ? ': after that, peers of that CA are refused (crl_stale)' : ''}`,
        ),
      );
  }
  return { findings, crls };
}

function coded(error: TlsError, subject: string): Finding {
  return finding(error.code, error.file ?? subject, withoutCode(error.message, error.code));
}
