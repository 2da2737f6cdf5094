// Rule 1: certificate chain, key and CA bundle are read and checked as one unit. Any failure is a
// TlsError whose code says what is wrong and whose message names the file.
import { createHash, createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { type Clock, systemClock } from './clock.ts';
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

export async function readMaterialFiles(paths: MaterialPaths): Promise<MaterialFiles> {
  const read = async (file: string, what: string) => {
    try {
      return await readFile(file, 'utf8');
    } catch (error) {
      const reason = (error as NodeJS.ErrnoException).code ?? 'read error';
      throw new TlsError('TLS_FILE_UNREADABLE', `cannot read ${what} ${file} (${reason})`, file);
    }
  };
  const [certPem, keyPem, caPem] = await Promise.all([
    read(paths.certPath, 'certificate'),
    read(paths.keyPath, 'private key'),
    read(paths.caPath, 'CA bundle'),
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
  const now = (options.clock ?? systemClock)().getTime();
  const skew = options.skewMs ?? DEFAULT_SKEW_MS;

  const certs = parseBundle(files.certPem, paths.certPath, 'certificate');
  const cas = parseBundle(files.caPem, paths.caPath, 'CA bundle');
  const [leaf, ...chain] = certs as [ParsedCertificate, ...ParsedCertificate[]];

  checkKeyMatchesLeaf(files.keyPem, leaf, paths);
  if (leaf.isCa) {
    throw new TlsError(
      'TLS_LEAF_IS_CA',
      `the first certificate in ${paths.certPath} is a CA certificate, not a leaf`,
      paths.certPath,
    );
  }
  checkExtendedKeyUsage(leaf, options.roles ?? ['server', 'client'], paths.certPath);
  for (const [cert, file] of [
    [leaf, paths.certPath],
    ...chain.map((c) => [c, paths.certPath]),
    ...cas.map((c) => [c, paths.caPath]),
  ] as [ParsedCertificate, string][]) {
    checkValidity(cert, file, now, skew);
  }
  checkChain(leaf, chain, cas, paths);
  if (options.entityUri !== undefined && !leaf.uris.includes(options.entityUri)) {
    const present = leaf.uris.length > 0 ? leaf.uris.join(', ') : 'none';
    throw new TlsError(
      'TLS_ENTITY_URI_MISSING',
      `certificate ${paths.certPath} has no URI SAN equal to the entity URI ${options.entityUri} (URI SANs: ${present})`,
      paths.certPath,
    );
  }
  return { ...files, paths, leaf, chain, cas };
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

/** Walks leaf → issuer by signature until a certificate of the CA bundle is reached. */
function checkChain(
  leaf: ParsedCertificate,
  chain: ParsedCertificate[],
  cas: ParsedCertificate[],
  paths: MaterialPaths,
): void {
  const anchors = cas.map((c) => new X509Certificate(c.der));
  const candidates = [...chain.map((c) => new X509Certificate(c.der)), ...anchors];
  let current = new X509Certificate(leaf.der);
  for (let depth = 0; depth < MAX_CHAIN_DEPTH; depth++) {
    const issuer = candidates.find((c) => c.ca && current.checkIssued(c) && current.verify(c.publicKey));
    if (!issuer) break;
    if (anchors.some((a) => a.raw.equals(issuer.raw))) return;
    current = issuer;
  }
  throw new TlsError(
    'TLS_CHAIN_UNTRUSTED',
    `certificate ${paths.certPath} (${leaf.subject}, issuer ${leaf.issuer}) does not chain to a CA in ${paths.caPath}`,
    paths.certPath,
  );
}
