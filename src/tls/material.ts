// Rule 1: certificate chain, key and CA bundle are read and checked as one unit. Any failure is a
// TlsError whose code says what is wrong and whose message names the file.
import { createHash, createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { type Clock, systemClock } from './clock.ts';
import type { CrlStalePolicy, LoadedCrl } from './crl.ts';
import { TlsError } from './errors.ts';
import type { PemMaterial } from './policy.ts';
import {
  EKU_CLIENT_AUTH,
  EKU_SERVER_AUTH,
  type ParsedCertificate,
  parseCertificate,
  pemCertificatesToDer,
} from './x509.ts';

export interface MaterialPaths {
  certPath: string;
  keyPath: string;
  caPath: string;
}

export interface MaterialFiles extends PemMaterial {
  /** SHA-256 over the three files' contents: a change in any of them is a new version. */
  contentHash: string;
}

export interface Material extends MaterialFiles {
  paths: MaterialPaths;
  leaf: ParsedCertificate;
  /** Certificates after the leaf in the cert file (intermediates, possibly the root). */
  chain: ParsedCertificate[];
  cas: ParsedCertificate[];
  /** CRLs loaded with the material (TESSERA_TLS_CRL_PATH), each verified against `cas`; empty without. */
  crls: readonly LoadedCrl[];
  /** What a peer whose issuer's CRL is past nextUpdate gets: refused (`fail`, default) or accepted with a warning. */
  crlStale: CrlStalePolicy;
}

/** What the material is used for; decides which extended key usages a leaf with an EKU extension needs. */
export type TlsRole = 'server' | 'client';

export interface ValidateOptions {
  /** When set, this URI must be one of the leaf's URI SANs (the node's own entity URI). */
  entityUri?: string | undefined;
  /** Roles the leaf must serve when it carries an EKU extension; default both (a federation node dials and listens). */
  roles?: readonly TlsRole[];
  clock?: Clock;
  /** Allowed clock skew for notBefore / notAfter, default 5 minutes. */
  skewMs?: number;
}

const DEFAULT_SKEW_MS = 5 * 60_000;
const MAX_CHAIN_DEPTH = 8;

/** One file of the material as text; TLS_FILE_UNREADABLE naming it (`what`: certificate, private key, CA bundle). */
export async function readMaterialFile(file: string, what: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? 'read error';
    throw new TlsError('TLS_FILE_UNREADABLE', `cannot read ${what} ${file} (${reason})`, file);
  }
}

export async function readMaterialFiles(paths: MaterialPaths): Promise<MaterialFiles> {
  const [certPem, keyPem, caPem] = await Promise.all([
    readMaterialFile(paths.certPath, 'certificate'),
    readMaterialFile(paths.keyPath, 'private key'),
    readMaterialFile(paths.caPath, 'CA bundle'),
  ]);
  const contentHash = createHash('sha256')
    .update(certPem)
    .update('\0')
    .update(keyPem)
    .update('\0')
    .update(caPem)
    .digest('hex');
  return { certPem, keyPem, caPem, contentHash };
}

export async function loadMaterial(paths: MaterialPaths, options: ValidateOptions = {}): Promise<Material> {
  return validateMaterial(paths, await readMaterialFiles(paths), options);
}

export function validateMaterial(
  paths: MaterialPaths,
  files: MaterialFiles,
  options: ValidateOptions = {},
): Material {
  const inspection = inspectMaterial(paths, files, options);
  if (inspection.problems[0]) throw inspection.problems[0];
  const { leaf, chain, cas } = inspection as Required<MaterialInspection>;
  return { ...files, paths, leaf, chain, cas, crls: [], crlStale: 'fail' };
}

/** What inspectMaterial found: the certificates it could parse and every rule-1 problem. */
export interface MaterialInspection {
  /** Absent when the certificate file has no parseable certificate. */
  leaf?: ParsedCertificate;
  chain: ParsedCertificate[];
  /** Absent when the CA bundle has no parseable certificate. */
  cas?: ParsedCertificate[];
  /** In the order start-up meets them: the first is what validateMaterial throws. */
  problems: TlsError[];
}

/**
 * Every rule-1 check, each problem collected instead of thrown (`tessera doctor` reports them all). A file
 * left out (unreadable) skips only the checks that need it.
 */
export function inspectMaterial(
  paths: MaterialPaths,
  files: Partial<PemMaterial>,
  options: ValidateOptions = {},
): MaterialInspection {
  const now = (options.clock ?? systemClock)().getTime();
  const skew = options.skewMs ?? DEFAULT_SKEW_MS;
  const problems: TlsError[] = [];
  const attempt = <T>(check: () => T): T | undefined => {
    try {
      return check();
    } catch (error) {
      if (!(error instanceof TlsError)) throw error;
      problems.push(error);
      return undefined;
    }
  };

  const certs =
    files.certPem === undefined
      ? undefined
      : attempt(() => parseBundle(files.certPem as string, paths.certPath, 'certificate'));
  const cas =
    files.caPem === undefined
      ? undefined
      : attempt(() => parseBundle(files.caPem as string, paths.caPath, 'CA bundle'));
  const [leaf, ...chain] = certs ?? [];

  if (leaf) {
    if (files.keyPem !== undefined) attempt(() => checkKeyMatchesLeaf(files.keyPem as string, leaf, paths));
    if (leaf.isCa)
      problems.push(
        new TlsError(
          'TLS_LEAF_IS_CA',
          `the first certificate in ${paths.certPath} is a CA certificate, not a leaf`,
          paths.certPath,
        ),
      );
    attempt(() => checkExtendedKeyUsage(leaf, options.roles ?? ['server', 'client'], paths.certPath));
  }
  for (const [cert, file] of [
    ...(certs ?? []).map((c) => [c, paths.certPath]),
    ...(cas ?? []).map((c) => [c, paths.caPath]),
  ] as [ParsedCertificate, string][]) {
    attempt(() => checkValidity(cert, file, now, skew));
  }
  if (leaf && cas) attempt(() => checkChain(leaf, chain, cas, paths));
  if (leaf && options.entityUri !== undefined && !leaf.uris.includes(options.entityUri)) {
    const present = leaf.uris.length > 0 ? leaf.uris.join(', ') : 'none';
    problems.push(
      new TlsError(
        'TLS_ENTITY_URI_MISSING',
        `certificate ${paths.certPath} has no URI SAN equal to the entity URI ${options.entityUri} (URI SANs: ${present})`,
        paths.certPath,
      ),
    );
  }
  return { ...(leaf ? { leaf } : {}), chain, ...(cas ? { cas } : {}), problems };
}

const ROLE_EKU: Record<TlsRole, [oid: string, name: string]> = {
  server: [EKU_SERVER_AUTH, 'serverAuth'],
  client: [EKU_CLIENT_AUTH, 'clientAuth'],
};

/**
 * RFC 5280 4.2.1.12: no EKU extension means the key may serve any purpose (the Stigmem openssl recipe makes
 * such leaves); an EKU extension restricts it, so it must then list the usage of every role we need.
 */
function checkExtendedKeyUsage(leaf: ParsedCertificate, roles: readonly TlsRole[], certPath: string): void {
  if (leaf.extendedKeyUsages === null) return;
  const ekus = leaf.extendedKeyUsages;
  const missing = roles.map((role) => ROLE_EKU[role]).filter(([oid]) => !ekus.includes(oid));
  if (missing.length === 0) return;
  const names = missing.map(([, name]) => name).join(' and ');
  throw new TlsError(
    'TLS_EKU_MISSING',
    `certificate ${certPath} has an extended key usage extension without ${names}`,
    certPath,
  );
}

function parseBundle(pem: string, file: string, what: string): ParsedCertificate[] {
  const ders = pemCertificatesToDer(pem);
  if (ders.length === 0) {
    const code = what === 'CA bundle' ? 'TLS_CA_BUNDLE_EMPTY' : 'TLS_PEM_INVALID';
    throw new TlsError(code, `${what} ${file} contains no PEM certificate`, file);
  }
  return ders.map((der, index) => {
    try {
      return parseCertificate(der);
    } catch {
      throw new TlsError(
        'TLS_PEM_INVALID',
        `certificate #${index + 1} in ${what} ${file} cannot be parsed`,
        file,
      );
    }
  });
}

function checkKeyMatchesLeaf(keyPem: string, leaf: ParsedCertificate, paths: MaterialPaths): void {
  let keySpki: Buffer;
  try {
    keySpki = createPublicKey(createPrivateKey(keyPem)).export({ type: 'spki', format: 'der' });
  } catch {
    // The parser's message is dropped on purpose: it may quote key bytes.
    throw new TlsError(
      'TLS_KEY_INVALID',
      `private key ${paths.keyPath} is not an unencrypted PEM private key`,
      paths.keyPath,
    );
  }
  const certSpki = new X509Certificate(leaf.der).publicKey.export({ type: 'spki', format: 'der' });
  if (!keySpki.equals(certSpki)) {
    throw new TlsError(
      'TLS_KEY_MISMATCH',
      `private key ${paths.keyPath} does not match the certificate in ${paths.certPath}`,
      paths.keyPath,
    );
  }
}

function checkValidity(cert: ParsedCertificate, file: string, now: number, skew: number): void {
  if (cert.notAfter.getTime() + skew < now) {
    throw new TlsError(
      'TLS_CERT_EXPIRED',
      `certificate ${cert.subject} in ${file} expired at ${cert.notAfter.toISOString()}`,
      file,
    );
  }
  if (cert.notBefore.getTime() - skew > now) {
    throw new TlsError(
      'TLS_CERT_NOT_YET_VALID',
      `certificate ${cert.subject} in ${file} is not valid before ${cert.notBefore.toISOString()}`,
      file,
    );
  }
}

function checkChain(
  leaf: ParsedCertificate,
  chain: ParsedCertificate[],
  cas: ParsedCertificate[],
  paths: MaterialPaths,
): void {
  if (chainsTo(leaf, chain, cas)) return;
  throw new TlsError(
    'TLS_CHAIN_UNTRUSTED',
    `certificate ${paths.certPath} (${leaf.subject}, issuer ${leaf.issuer}) does not chain to a CA in ${paths.caPath}`,
    paths.certPath,
  );
}

/**
 * Walks leaf → issuer by signature (through `chain`, the certificates sent with it) until a certificate of
 * `cas` is reached. The same walk judges our own material and a peer's certificate file (`tessera doctor`).
 */
export function chainsTo(
  leaf: ParsedCertificate,
  chain: readonly ParsedCertificate[],
  cas: readonly ParsedCertificate[],
): boolean {
  const anchors = cas.map((c) => new X509Certificate(c.der));
  const candidates = [...chain.map((c) => new X509Certificate(c.der)), ...anchors];
  let current = new X509Certificate(leaf.der);
  for (let depth = 0; depth < MAX_CHAIN_DEPTH; depth++) {
    const issuer = candidates.find((c) => c.ca && current.checkIssued(c) && current.verify(c.publicKey));
    if (!issuer) return false;
    if (anchors.some((a) => a.raw.equals(issuer.raw))) return true;
    current = issuer;
  }
  return false;
}
