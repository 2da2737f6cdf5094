// Our own certificate, key and CA bundle: every rule-1 check of the TLS core (inspectMaterial, collecting
// instead of stopping at the first), then what start-up does not judge: remaining lifetime against the
// expiry windows, a SPIFFE entity URI among other URI SANs, and, when the static checks pass, the core's
// loopback mutual handshake. Problems about the CA bundle file go to their own section.
import type { Clock } from '../../tls/clock.ts';
import { checkLifetimeFloor } from '../../tls/credential-source.ts';
import { TlsError } from '../../tls/errors.ts';
import {
  inspectMaterial,
  type MaterialInspection,
  type MaterialPaths,
  readMaterialFile,
} from '../../tls/material.ts';
import type { PemMaterial } from '../../tls/policy.ts';
import { selfHandshake } from '../../tls/self-handshake.ts';
import { type ExpiryWindows, expiryFindings } from './expiry-check.ts';
import { type Finding, finding, withoutCode } from './finding.ts';

export interface MaterialOutcome {
  /** Findings about the certificate and key files. */
  own: Finding[];
  /** Findings about the CA bundle file. */
  bundle: Finding[];
  inspection: MaterialInspection;
}

export async function checkMaterial(
  paths: MaterialPaths,
  options: {
    entityUri: string | undefined;
    expiry: ExpiryWindows;
    /** The validity floor start-up applies (0: off). */
    minRemainingLifetimeMs: number;
    clock: Clock;
  },
): Promise<MaterialOutcome> {
  const read = async (file: string, what: string) => {
    try {
      return { pem: await readMaterialFile(file, what) };
    } catch (error) {
      if (error instanceof TlsError) return { error };
      throw error;
    }
  };
  const [cert, key, ca] = await Promise.all([
    read(paths.certPath, 'certificate'),
    read(paths.keyPath, 'private key'),
    read(paths.caPath, 'CA bundle'),
  ]);
  const files: Partial<PemMaterial> = {
    ...(cert.pem !== undefined ? { certPem: cert.pem } : {}),
    ...(key.pem !== undefined ? { keyPem: key.pem } : {}),
    ...(ca.pem !== undefined ? { caPem: ca.pem } : {}),
  };
  const inspection = inspectMaterial(paths, files, {
    ...(options.entityUri ? { entityUri: options.entityUri } : {}),
    clock: options.clock,
  });
  const problems = [cert.error, key.error, ca.error, ...inspection.problems].filter(
    (p): p is TlsError => p !== undefined,
  );
  // The credential source's floor, after rule 1 as at start-up; an expired leaf is reported once, above.
  const { leaf: parsed } = inspection;
  if (parsed && !problems.some((p) => p.code === 'TLS_CERT_EXPIRED' && p.file === paths.certPath))
    try {
      checkLifetimeFloor(
        { leaf: parsed },
        { ...paths, minRemainingLifetimeMs: options.minRemainingLifetimeMs },
        options.clock,
      );
    } catch (error) {
      if (!(error instanceof TlsError)) throw error;
      problems.push(error);
    }
  const outcome: MaterialOutcome = { own: [], bundle: [], inspection };
  for (const problem of problems) {
    const subject = problem.file ?? paths.certPath;
    const found = finding(problem.code, subject, withoutCode(problem.message, problem.code));
    (subject === paths.caPath ? outcome.bundle : outcome.own).push(found);
  }

  const { leaf, chain, cas } = inspection;
  if (leaf) {
    // A CA of the bundle sent along in the chain is reported once, as a CA (ca-bundle-check.ts).
    const anchors = new Set(cas?.map((c) => c.fingerprint256));
    const served = [leaf, ...chain.filter((c) => !anchors.has(c.fingerprint256))].map((c) => ({
      cert: c,
      file: paths.certPath,
    }));
    outcome.own.push(...expiryFindings(served, 'cert', options.expiry, options.clock));
    const entityUri = options.entityUri;
    if (entityUri?.startsWith('spiffe://') && leaf.uris.includes(entityUri) && leaf.uris.length > 1)
      outcome.own.push(
        finding(
          'TLS_SPIFFE_ID_NOT_SINGLE',
          paths.certPath,
          `certificate ${paths.certPath} carries the SPIFFE ID ${entityUri} among ${leaf.uris.length} URI SANs (${leaf.uris.join(', ')})`,
        ),
      );
  }
  // The handshake tells what OpenSSL refuses beyond the static checks; on broken material it adds nothing.
  if (problems.length === 0 && leaf && files.certPem && files.keyPem && files.caPem) {
    try {
      await selfHandshake({ certPem: files.certPem, keyPem: files.keyPem, caPem: files.caPem, leaf });
    } catch (error) {
      if (!(error instanceof TlsError)) throw error;
      outcome.own.push(finding(error.code, paths.certPath, withoutCode(error.message, error.code)));
    }
  }
  return outcome;
}
