// Issues a node (leaf) certificate from the file-based CA: OUT/NAME.crt (leaf then CA chain, what Node's
// `cert` option expects) and OUT/NAME.key (0600). Every argument is checked before a key is generated or
// a byte is written; the two files then appear together (writeFilesAtomically).
import { join } from 'node:path';
import { parseCertificate, pemCertificatesToDer } from '../tls/x509.ts';
import { writeFilesAtomically } from './atomic-write.ts';
import { type LoadedCa, loadCa } from './ca.ts';
import { buildCertificate, type IssuedCertificate } from './certificate.ts';
import { PkiError } from './errors.ts';
import { DEFAULT_KEY_ALGO, type KeyAlgo } from './keys.ts';
import {
  ensureWritableDir,
  validateAlgo,
  validateDays,
  validateDnsName,
  validateFileName,
  validateIp,
  validateUri,
} from './validate.ts';

export const DEFAULT_LEAF_DAYS = 90;

const DAY_MS = 86_400_000;
const CLOCK_SKEW_MS = 5 * 60_000;

export interface LeafSpec {
  /** File name stem and subject CN. Identity lives in the URI SANs, not here. */
  name: string;
  uris: string[];
  dnsNames?: string[];
  ips?: string[];
  days?: number;
  algo?: KeyAlgo;
  now?: Date;
}

export interface IssueLeafOptions extends LeafSpec {
  caDir: string;
  outDir: string;
}

export interface IssuedLeaf {
  certPath: string;
  keyPath: string;
  uris: string[];
  /** Lower-case hex SHA-256 of the leaf's SubjectPublicKeyInfo (the value to pin). */
  spkiSha256: string;
}

export function validateLeafSpec(spec: LeafSpec): void {
  validateFileName(spec.name);
  if (spec.uris.length === 0) {
    throw new PkiError(
      'PKI_INVALID_URI',
      'at least one URI SAN is required (the entity URI of the node, --uri)',
    );
  }
  for (const uri of spec.uris) validateUri(uri);
  for (const dns of spec.dnsNames ?? []) validateDnsName(dns);
  for (const ip of spec.ips ?? []) validateIp(ip);
  validateDays(spec.days ?? DEFAULT_LEAF_DAYS);
  if (spec.algo !== undefined) validateAlgo(spec.algo);
}

/** Refuses a lifetime that would outlive the CA: the chain would break before the leaf expires. */
export function checkLeafFitsCa(ca: LoadedCa, spec: LeafSpec): Date {
  const now = spec.now ?? new Date();
  const days = spec.days ?? DEFAULT_LEAF_DAYS;
  // X.509 times have one-second resolution; compare what will actually be encoded.
  const notAfter = new Date(Math.floor((now.getTime() + days * DAY_MS) / 1000) * 1000);
  const caNotAfter = parseCertificate(pemCertificatesToDer(ca.certPem)[0]!).notAfter;
  if (caNotAfter.getTime() <= now.getTime()) {
    throw new PkiError('PKI_CA_INVALID', `the CA expired at ${caNotAfter.toISOString()}; create a new one`);
  }
  if (notAfter.getTime() > caNotAfter.getTime()) {
    const maxDays = Math.floor((caNotAfter.getTime() - now.getTime()) / DAY_MS);
    throw new PkiError(
      'PKI_INVALID_DAYS',
      `a lifetime of ${days} days would outlive the CA, which expires at ${caNotAfter.toISOString()}; ` +
        (maxDays >= 1 ? `use --days ${maxDays} or fewer, or renew the CA` : 'renew the CA first'),
    );
  }
  return notAfter;
}

/** Builds a validated leaf in memory (no files). */
export async function buildLeaf(ca: LoadedCa, spec: LeafSpec): Promise<IssuedCertificate> {
  validateLeafSpec(spec);
  const notAfter = checkLeafFitsCa(ca, spec);
  const now = spec.now ?? new Date();
  return buildCertificate({
    subjectCN: spec.name,
    issuer: ca,
    algo: spec.algo ?? DEFAULT_KEY_ALGO,
    uris: spec.uris,
    dnsNames: spec.dnsNames ?? [],
    ips: spec.ips ?? [],
    extendedKeyUsages: ['serverAuth', 'clientAuth'],
    notBefore: new Date(now.getTime() - CLOCK_SKEW_MS),
    notAfter,
  });
}

export function leafPaths(outDir: string, name: string): { certPath: string; keyPath: string } {
  return { certPath: join(outDir, `${name}.crt`), keyPath: join(outDir, `${name}.key`) };
}

export async function issueLeaf(opts: IssueLeafOptions): Promise<IssuedLeaf> {
  validateLeafSpec(opts);
  const ca = await loadCa(opts.caDir);
  checkLeafFitsCa(ca, opts);
  await ensureWritableDir(opts.outDir);
  const leaf = await buildLeaf(ca, opts);
  const { certPath, keyPath } = leafPaths(opts.outDir, opts.name);
  await writeFilesAtomically([
    { path: keyPath, data: leaf.keyPem, mode: 0o600 },
    { path: certPath, data: leaf.certPem, mode: 0o644 },
  ]);
  return { certPath, keyPath, uris: [...opts.uris], spkiSha256: spkiOf(leaf.certPem) };
}

export function spkiOf(certPem: string): string {
  return parseCertificate(pemCertificatesToDer(certPem)[0]!).spkiSha256;
}
