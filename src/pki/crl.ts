// Certificate revocation lists (RFC 5280 section 5) signed by a CA: the serials it revokes, when it was
// made (thisUpdate) and when the next one is due (nextUpdate; past it, nodes refuse that CA's peers unless
// their stale policy says warn). buildCrl signs whatever it is given (tests craft stale CRLs with it);
// issueCrl is `tessera pki crl`: the file-based CA, certificate files or serials checked, the file written
// atomically so a node watching it reloads a complete CRL.
import { readFile } from 'node:fs/promises';
import { normaliseSerial as canonicalSerial, parseCrlFile } from '../tls/crl.ts';
import { derToPem, parseCertificate, pemCertificatesToDer, x509 } from '../tls/x509.ts';
import { writeFilesAtomically } from './atomic-write.ts';
import { loadCa } from './ca.ts';
import { PkiError } from './errors.ts';
import { importPrivateKeyPem, keyAlgoOf } from './keys.ts';

export interface CrlSpec {
  /** The CA certificate (first PEM block) and its private key: the CRL's issuer and signer. */
  issuer: { certPem: string; keyPem: string };
  /** Hex serials of the revoked certificates (any case, optional colons). */
  serials: readonly string[];
  /** Default now. */
  thisUpdate?: Date;
  /** When the next CRL is due; default thisUpdate + 7 days. */
  nextUpdate?: Date;
  /** Revocation time written for every entry; default thisUpdate. */
  revocationDate?: Date;
}

export interface IssuedCrl {
  /** PEM, one X509 CRL block. */
  crlPem: string;
  der: Buffer;
  thisUpdate: Date;
  nextUpdate: Date;
}

const DAY_MS = 86_400_000;
export const DEFAULT_CRL_NEXT_UPDATE_MS = 7 * DAY_MS;

export async function buildCrl(spec: CrlSpec): Promise<IssuedCrl> {
  const der = pemCertificatesToDer(spec.issuer.certPem)[0];
  if (!der) throw new Error('issuer.certPem contains no CERTIFICATE block');
  const cert = new x509.X509Certificate(new Uint8Array(der));
  const { privateKey } = await importPrivateKeyPem(spec.issuer.keyPem);
  const thisUpdate = spec.thisUpdate ?? new Date();
  const nextUpdate = spec.nextUpdate ?? new Date(thisUpdate.getTime() + DEFAULT_CRL_NEXT_UPDATE_MS);
  const crl = await x509.X509CrlGenerator.create({
    // The issuer's encoded subject as-is, so the CRL's issuer matches the CA's subject byte for byte.
    issuer: cert.subjectName,
    thisUpdate,
    nextUpdate,
    entries: [...new Set(spec.serials.map(normaliseSerial))].map((serialNumber) => ({
      serialNumber,
      revocationDate: spec.revocationDate ?? thisUpdate,
    })),
    signingKey: privateKey,
    signingAlgorithm:
      keyAlgoOf(privateKey) === 'ed25519' ? { name: 'Ed25519' } : { name: 'ECDSA', hash: 'SHA-256' },
  });
  const raw = Buffer.from(crl.rawData);
  return { crlPem: derToPem(raw, 'X509 CRL'), der: raw, thisUpdate, nextUpdate };
}

/** Lower-case hex without colons, an even number of digits (a DER INTEGER's bytes). */
export function normaliseSerial(serial: string): string {
  const hex = serial.replaceAll(':', '').toLowerCase();
  if (!/^[0-9a-f]{1,40}$/.test(hex))
    throw new PkiError('PKI_INVALID_SERIAL', `not a serial (1 to 40 hex digits, colons allowed): ${serial}`);
  return hex.length % 2 === 1 ? `0${hex}` : hex;
}

export interface IssueCrlOptions {
  /** Directory holding ca.crt and ca.key. */
  caDir: string;
  /** Where the CRL is written (atomically). */
  outPath: string;
  /** Certificate files to revoke (PEM or DER, first certificate); each must be issued by this CA. */
  certFiles?: readonly string[];
  /** Serials to revoke (hex). */
  serials?: readonly string[];
  /** Also keep every serial the CRL already at `outPath` revokes (it must be this CA's). */
  merge?: boolean;
  /** When the next CRL is due; default now + 7 days. */
  nextUpdate?: Date;
  /** DER instead of PEM. */
  der?: boolean;
  now?: Date;
}

export interface IssuedCrlFile {
  path: string;
  issuer: string;
  thisUpdate: Date;
  nextUpdate: Date;
  /** Every serial the new CRL revokes (normalised, sorted). */
  serials: string[];
}

export async function issueCrl(options: IssueCrlOptions): Promise<IssuedCrlFile> {
  const ca = await loadCa(options.caDir);
  const caCert = parseCertificate(pemCertificatesToDer(ca.certPem)[0] as Buffer);
  const serials = (options.serials ?? []).map(normaliseSerial);
  for (const file of options.certFiles ?? []) serials.push(await serialIssuedBy(file, caCert.subject));
  if (options.merge) serials.push(...(await existingSerials(options.outPath, caCert.subject)));
  const thisUpdate = options.now ?? new Date();
  const nextUpdate = options.nextUpdate ?? new Date(thisUpdate.getTime() + DEFAULT_CRL_NEXT_UPDATE_MS);
  const crl = await buildCrl({ issuer: ca, serials, thisUpdate, nextUpdate });
  await writeFilesAtomically([
    { path: options.outPath, data: options.der ? crl.der : crl.crlPem, mode: 0o644 },
  ]);
  return {
    path: options.outPath,
    issuer: caCert.subject,
    thisUpdate: crl.thisUpdate,
    nextUpdate: crl.nextUpdate,
    serials: [...new Set(serials)].sort(),
  };
}

async function serialIssuedBy(file: string, caSubject: string): Promise<string> {
  let data: Buffer;
  try {
    data = await readFile(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? String(error);
    throw new PkiError('PKI_FILE_UNREADABLE', `cannot read ${file} (${code})`);
  }
  const der = data.includes('-----BEGIN') ? pemCertificatesToDer(data.toString('latin1'))[0] : data;
  let cert: ReturnType<typeof parseCertificate>;
  try {
    if (!der) throw new Error('no certificate');
    cert = parseCertificate(der);
  } catch {
    throw new PkiError('PKI_NOT_A_CERTIFICATE', `${file} holds no certificate`);
  }
  if (cert.issuer !== caSubject)
    throw new PkiError(
      'PKI_WRONG_ISSUER',
      `${file} (${cert.subject}) is issued by ${cert.issuer}, not by this CA (${caSubject}): its CRL cannot revoke it`,
    );
  return normaliseSerial(cert.serial);
}

async function existingSerials(path: string, caSubject: string): Promise<string[]> {
  let data: Buffer;
  try {
    data = await readFile(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new PkiError(
      'PKI_FILE_UNREADABLE',
      `cannot read ${path} (${(error as NodeJS.ErrnoException).code})`,
    );
  }
  let crls: ReturnType<typeof parseCrlFile>;
  try {
    crls = parseCrlFile(data, path);
  } catch {
    throw new PkiError('PKI_FILE_UNREADABLE', `${path} is not a CRL: --merge needs the CRL to extend`);
  }
  const serials: string[] = [];
  for (const crl of crls) {
    if (crl.issuer !== caSubject)
      throw new PkiError(
        'PKI_WRONG_ISSUER',
        `${path} is a CRL of ${crl.issuer}, not of this CA (${caSubject})`,
      );
    for (const entry of crl.entries) serials.push(normaliseSerial(canonicalSerial(entry.serialNumber)));
  }
  return serials;
}
