// The Tessera certificate authority on disk: DIR/ca.crt (public) and DIR/ca.key (0600). A small,
// file-based CA for development and modest deployments; organisations with a PKI bring their own.
import { webcrypto } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseCertificate, pemCertificatesToDer, sha256Hex } from '../tls/x509.ts';
import { writeFilesAtomically } from './atomic-write.ts';
import { buildCertificate, type IssuedCertificate } from './certificate.ts';
import { PkiError } from './errors.ts';
import { type CryptoKey, DEFAULT_KEY_ALGO, importPrivateKeyPem, type KeyAlgo } from './keys.ts';
import {
  ensureWritableDir,
  hasControlCharacters,
  pathExists,
  validateAlgo,
  validateDays,
} from './validate.ts';

export const CA_CERT_FILE = 'ca.crt';
export const CA_KEY_FILE = 'ca.key';
export const DEFAULT_CA_NAME = 'Tessera CA';
export const DEFAULT_CA_DAYS = 3650;

const DAY_MS = 86_400_000;
const CLOCK_SKEW_MS = 5 * 60_000;

export interface InitCaOptions {
  dir: string;
  name?: string;
  algo?: KeyAlgo;
  days?: number;
  now?: Date;
  /** Replace an existing CA. Everything it issued stops chaining to the new one. */
  force?: boolean;
}

export interface LoadedCa {
  certPem: string;
  keyPem: string;
}

export function validateCaName(name: string): void {
  // The CN is free text, but control characters would corrupt `inspect` output and logs.
  if (name.length === 0 || name.length > 64 || hasControlCharacters(name)) {
    throw new PkiError(
      'PKI_INVALID_NAME',
      `invalid CA name ${JSON.stringify(name)}: 1 to 64 characters, no control characters`,
    );
  }
}

type CaOptions = Omit<InitCaOptions, 'dir' | 'force'>;

function validateCaOptions(opts: CaOptions): void {
  validateCaName(opts.name ?? DEFAULT_CA_NAME);
  validateDays(opts.days ?? DEFAULT_CA_DAYS);
  if (opts.algo !== undefined) validateAlgo(opts.algo);
}

/** Validates the options of a CA and builds it in memory (no files). */
export async function buildCa(opts: CaOptions): Promise<IssuedCertificate> {
  validateCaOptions(opts);
  const name = opts.name ?? DEFAULT_CA_NAME;
  const days = opts.days ?? DEFAULT_CA_DAYS;
  const now = opts.now ?? new Date();
  return buildCertificate({
    subjectCN: name,
    algo: opts.algo ?? DEFAULT_KEY_ALGO,
    isCa: true,
    // Least privilege: this CA only ever signs leaves, never intermediate CAs.
    pathLength: 0,
    notBefore: new Date(now.getTime() - CLOCK_SKEW_MS),
    notAfter: new Date(now.getTime() + days * DAY_MS),
  });
}

export async function initCa(opts: InitCaOptions): Promise<{ certPath: string; keyPath: string }> {
  const certPath = join(opts.dir, CA_CERT_FILE);
  const keyPath = join(opts.dir, CA_KEY_FILE);
  // Validate every option before touching the file system, and the file system before generating keys.
  validateCaOptions(opts);
  await ensureWritableDir(opts.dir);
  if (!opts.force) {
    for (const path of [keyPath, certPath]) {
      if (await pathExists(path)) {
        throw new PkiError(
          'PKI_EXISTS',
          `${path} already exists; refusing to replace the CA (certificates it issued would stop being trusted). Use --force to replace it.`,
        );
      }
    }
  }
  const ca = await buildCa(opts);
  await writeFilesAtomically([
    { path: keyPath, data: ca.keyPem, mode: 0o600 },
    { path: certPath, data: ca.certPem, mode: 0o644 },
  ]);
  return { certPath, keyPath };
}

/** Reads DIR/ca.crt and DIR/ca.key and checks that they are a CA certificate and its key. */
export async function loadCa(dir: string): Promise<LoadedCa> {
  const certPath = join(dir, CA_CERT_FILE);
  const keyPath = join(dir, CA_KEY_FILE);
  const certPem = await readCaFile(certPath);
  const keyPem = await readCaFile(keyPath);
  const der = pemCertificatesToDer(certPem)[0];
  let cert: ReturnType<typeof parseCertificate>;
  try {
    if (!der) throw new Error('no CERTIFICATE block');
    cert = parseCertificate(der);
  } catch {
    throw new PkiError('PKI_CA_INVALID', `${certPath} does not contain a PEM certificate`);
  }
  if (!cert.isCa) {
    throw new PkiError('PKI_CA_INVALID', `${certPath} is not a CA certificate (basicConstraints CA:FALSE)`);
  }
  let publicKey: CryptoKey;
  try {
    ({ publicKey } = await importPrivateKeyPem(keyPem));
  } catch (error) {
    const detail = error instanceof PkiError ? error.detail : String(error);
    throw new PkiError('PKI_CA_INVALID', `${keyPath}: ${detail}`);
  }
  const spki = new Uint8Array(await webcrypto.subtle.exportKey('spki', publicKey));
  if (sha256Hex(spki) !== cert.spkiSha256) {
    throw new PkiError('PKI_CA_INVALID', `${keyPath} is not the private key of ${certPath}`);
  }
  return { certPem, keyPem };
}

async function readCaFile(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      throw new PkiError(
        'PKI_CA_NOT_FOUND',
        `CA file ${path} not found (create a CA with: tessera pki init-ca --dir DIR)`,
      );
    }
    throw new PkiError('PKI_FILE_UNREADABLE', `cannot read ${path} (${code ?? String(error)})`);
  }
}
