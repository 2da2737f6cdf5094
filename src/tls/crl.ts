// Certificate revocation lists, loaded with the rest of the credential material (credential-source.ts):
// TESSERA_TLS_CRL_PATH names files or directories of CRLs (PEM or DER). Each CRL must be signed by a CA of
// the bundle: a CRL nobody we trust signed could revoke (or, by omission, un-revoke) anyone, so it is
// refused (TLS_CRL_ISSUER_UNKNOWN, TLS_CRL_SIGNATURE) like any other bad material: at start the source does
// not open, on reload the old material stays. What a loaded CRL means for a peer is revocation.ts.
import { createHash } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { TlsError } from './errors.ts';
import { type ParsedCertificate, x509 } from './x509.ts';

/** What to do with a peer whose issuer's CRL is past its nextUpdate: refuse it (`fail`) or accept and warn. */
export type CrlStalePolicy = 'fail' | 'warn';

export interface LoadedCrl {
  /** The file it came from. */
  file: string;
  /** The issuer's distinguished name, as ParsedCertificate.issuer spells it. */
  issuer: string;
  /** The CA of the bundle whose key signed it. */
  issuerFingerprint256: string;
  thisUpdate: Date;
  /** Absent when the CRL names no next update (then it never goes stale). */
  nextUpdate?: Date;
  /** Revoked serials (normalised: lower-case hex, no leading zero bytes) → revocation time. */
  revoked: ReadonlyMap<string, Date>;
}

/** One CRL file as read: its path and bytes. */
export interface CrlFile {
  file: string;
  bytes: Buffer;
}

/** A CRL file or directory may hold at most this much: a CRL is data from outside, bounded like any input. */
const MAX_CRL_BYTES = 16 * 1024 * 1024;

/**
 * Reads every CRL the paths name: a file as is, a directory's regular files (not recursive; names starting
 * with '.' skipped, so the Kubernetes `..data` entries are not read twice). Sorted for a stable hash.
 */
export async function readCrlFiles(paths: readonly string[]): Promise<CrlFile[]> {
  const files: string[] = [];
  for (const path of paths) {
    const info = await statOrThrow(path);
    if (!info.isDirectory()) {
      files.push(path);
      continue;
    }
    const names = (await readdir(path)).filter((name) => !name.startsWith('.')).sort();
    for (const name of names) {
      const file = join(path, name);
      if ((await statOrThrow(file)).isFile()) files.push(file);
    }
  }
  return Promise.all(
    files.map(async (file) => {
      const info = await statOrThrow(file);
      if (info.size > MAX_CRL_BYTES)
        throw new TlsError('TLS_CRL_INVALID', `CRL ${file} is larger than ${MAX_CRL_BYTES} bytes`, file);
      try {
        return { file, bytes: await readFile(file) };
      } catch (error) {
        throw unreadable(file, error);
      }
    }),
  );
}

/** SHA-256 over the CRL files (names and contents): part of the material's content hash. */
export function crlFilesHash(files: readonly CrlFile[]): string {
  const hash = createHash('sha256');
  for (const { file, bytes } of files) hash.update(file).update('\0').update(bytes).update('\0');
  return hash.digest('hex');
}

/** Parses and verifies every CRL against the bundle; the first bad one throws its TlsError. */
export async function loadCrls(
  files: readonly CrlFile[],
  cas: readonly ParsedCertificate[],
): Promise<LoadedCrl[]> {
  const loaded: LoadedCrl[] = [];
  for (const { file, bytes } of files) {
    for (const crl of parseCrlFile(bytes, file)) loaded.push(await verifyCrl(crl, file, cas));
  }
  return loaded;
}

/** Each CRL problem as a TlsError instead of a throw (what `tessera doctor` reports). */
export async function inspectCrls(
  files: readonly CrlFile[],
  cas: readonly ParsedCertificate[],
): Promise<{ crls: LoadedCrl[]; problems: TlsError[] }> {
  const crls: LoadedCrl[] = [];
  const problems: TlsError[] = [];
  for (const { file, bytes } of files) {
    try {
      for (const crl of parseCrlFile(bytes, file)) {
        try {
          crls.push(await verifyCrl(crl, file, cas));
        } catch (error) {
          if (!(error instanceof TlsError)) throw error;
          problems.push(error);
        }
      }
    } catch (error) {
      if (!(error instanceof TlsError)) throw error;
      problems.push(error);
    }
  }
  return { crls, problems };
}

/** PEM (one or more `X509 CRL` blocks) or a single DER CRL. */
export function parseCrlFile(bytes: Buffer, file: string): x509.X509Crl[] {
  const text = bytes.toString('latin1');
  const blocks = text.match(/-----BEGIN X509 CRL-----[\s\S]*?-----END X509 CRL-----/g);
  const ders = blocks
    ? blocks.map((block) => Buffer.from(block.replace(/-----(BEGIN|END) X509 CRL-----|\s+/g, ''), 'base64'))
    : text.includes('-----BEGIN')
      ? []
      : [bytes];
  if (ders.length === 0)
    throw new TlsError('TLS_CRL_INVALID', `${file} holds no X509 CRL block (PEM) and is not DER`, file);
  return ders.map((der, index) => {
    try {
      return new x509.X509Crl(new Uint8Array(der));
    } catch {
      throw new TlsError('TLS_CRL_INVALID', `CRL #${index + 1} in ${file} cannot be parsed`, file);
    }
  });
}

async function verifyCrl(
  crl: x509.X509Crl,
  file: string,
  cas: readonly ParsedCertificate[],
): Promise<LoadedCrl> {
  const candidates = cas.filter((ca) => ca.subject === crl.issuer);
  if (candidates.length === 0)
    throw new TlsError(
      'TLS_CRL_ISSUER_UNKNOWN',
      `CRL ${file} is issued by ${crl.issuer}, which is not a CA of the bundle`,
      file,
    );
  for (const ca of candidates) {
    let valid = false;
    try {
      valid = await crl.verify({ publicKey: new x509.X509Certificate(new Uint8Array(ca.der)) });
    } catch {
      valid = false;
    }
    if (!valid) continue;
    const revoked = new Map<string, Date>();
    for (const entry of crl.entries) revoked.set(normaliseSerial(entry.serialNumber), entry.revocationDate);
    return {
      file,
      issuer: crl.issuer,
      issuerFingerprint256: ca.fingerprint256,
      thisUpdate: crl.thisUpdate,
      ...(crl.nextUpdate ? { nextUpdate: crl.nextUpdate } : {}),
      revoked,
    };
  }
  throw new TlsError(
    'TLS_CRL_SIGNATURE',
    `CRL ${file} (issuer ${crl.issuer}) is not signed by the key of that CA in the bundle`,
    file,
  );
}

/** Serials compare as numbers: lower-case hex without leading zero bytes. */
export function normaliseSerial(serial: string): string {
  const hex = serial
    .replaceAll(':', '')
    .toLowerCase()
    .replace(/^(00)+(?=.)/, '');
  return hex === '' ? '0' : hex;
}

async function statOrThrow(path: string) {
  try {
    return await stat(path);
  } catch (error) {
    throw unreadable(path, error);
  }
}

function unreadable(path: string, error: unknown): TlsError {
  const reason = (error as NodeJS.ErrnoException).code ?? 'read error';
  return new TlsError('TLS_FILE_UNREADABLE', `cannot read CRL ${path} (${reason})`, path);
}
