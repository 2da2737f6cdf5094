// Input checks shared by the PKI verbs. They run before any key is generated or any file is written, so a
// bad argument never leaves half-issued material behind. Each failure names the offending value.
import { constants } from 'node:fs';
import { access, lstat, mkdir } from 'node:fs/promises';
import { isIP } from 'node:net';
import { PkiError } from './errors.ts';
import { KEY_ALGOS, type KeyAlgo } from './keys.ts';

/** Longest lifetime accepted, so a typo cannot produce a certificate (or Date) beyond reason. */
export const MAX_DAYS = 36_500;

const FILE_NAME = /^[A-Za-z0-9._-]+$/;
// SPIFFE trust domain charset (SPIFFE ID spec §2.1): lower-case letters, digits, '.', '-', '_'.
const TRUST_DOMAIN = /^[a-z0-9._-]+$/;
const SCHEME = /^[A-Za-z][A-Za-z0-9+.-]*:/;
// Characters that could smuggle a second name into text renderings of the SAN (`URI:a, URI:b`) or break
// quoting in configs and logs.
const FORBIDDEN_IN_URI = /[\s,"'`<>\\]/;
const DNS_LABEL = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;

/** C0 controls and DEL (written as a loop: a regex with control characters trips the linter). */
export function hasControlCharacters(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x20 || code === 0x7f) return true;
  }
  return false;
}

export function validateFileName(name: string, what = 'name'): void {
  if (!FILE_NAME.test(name) || name === '.' || name === '..') {
    throw new PkiError(
      'PKI_INVALID_NAME',
      `invalid ${what} ${JSON.stringify(name)}: use letters, digits, '.', '_' and '-' only (it becomes a file name)`,
    );
  }
}

export function validateTrustDomain(trustDomain: string): void {
  if (!TRUST_DOMAIN.test(trustDomain) || trustDomain.length > 255) {
    throw new PkiError(
      'PKI_INVALID_TRUST_DOMAIN',
      `invalid trust domain ${JSON.stringify(trustDomain)}: use lower-case letters, digits, '.', '-' and '_' only`,
    );
  }
}

export function validateUri(uri: string): void {
  const bad = (why: string) => new PkiError('PKI_INVALID_URI', `invalid URI ${JSON.stringify(uri)}: ${why}`);
  if (FORBIDDEN_IN_URI.test(uri) || hasControlCharacters(uri)) {
    throw bad('whitespace, commas, quotes and control characters are not allowed');
  }
  if (!SCHEME.test(uri)) throw bad('it needs a scheme, e.g. spiffe://example.org/node/a');
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    throw bad('not a parsable URI');
  }
  if (url.protocol === 'spiffe:') validateSpiffeId(uri, url, bad);
}

// A SPIFFE ID is the identity most Tessera nodes use; catching a malformed one here is cheaper than a
// federation peer rejecting it later.
function validateSpiffeId(uri: string, url: URL, bad: (why: string) => PkiError): void {
  if (!uri.startsWith('spiffe://')) throw bad('a SPIFFE ID has the form spiffe://<trust-domain>/<path>');
  if (url.username || url.password || url.port) throw bad('a SPIFFE ID has no user info or port');
  if (url.search || url.hash || uri.includes('?') || uri.includes('#')) {
    throw bad('a SPIFFE ID has no query or fragment');
  }
  const trustDomain = uri.slice('spiffe://'.length).split('/')[0] ?? '';
  if (!TRUST_DOMAIN.test(trustDomain)) {
    throw bad('the SPIFFE trust domain must be lower-case letters, digits, dots, dashes or underscores');
  }
}

export function validateDnsName(name: string): void {
  const labels = name.split('.');
  const ok =
    name.length <= 253 &&
    labels.every((label, i) => DNS_LABEL.test(label) || (i === 0 && label === '*' && labels.length > 1));
  if (!ok) {
    throw new PkiError(
      'PKI_INVALID_DNS',
      `invalid DNS name ${JSON.stringify(name)}: expected a host name such as node-a.example.org (a wildcard only as the whole first label)`,
    );
  }
}

export function validateIp(ip: string): void {
  if (isIP(ip) === 0) {
    throw new PkiError('PKI_INVALID_IP', `invalid IP address ${JSON.stringify(ip)}: expected IPv4 or IPv6`);
  }
}

export function validateDays(days: number): void {
  if (!Number.isSafeInteger(days) || days <= 0 || days > MAX_DAYS) {
    throw new PkiError(
      'PKI_INVALID_DAYS',
      `invalid days ${JSON.stringify(String(days))}: expected a whole number of days from 1 to ${MAX_DAYS}`,
    );
  }
}

export function validateAlgo(algo: string): asserts algo is KeyAlgo {
  if (!(KEY_ALGOS as readonly string[]).includes(algo)) {
    throw new PkiError(
      'PKI_INVALID_ALGO',
      `invalid key algorithm ${JSON.stringify(algo)}: use ${KEY_ALGOS.join(' or ')}`,
    );
  }
}

const DIR_ERRORS: Record<string, string> = {
  ENOTDIR: 'a component of the path is not a directory (ENOTDIR)',
  EEXIST: 'the path exists and is not a directory (EEXIST)',
  EACCES: 'permission denied (EACCES)',
  EPERM: 'operation not permitted (EPERM)',
  EROFS: 'read-only file system (EROFS)',
};

/** mkdir -p, then prove we may create files there (before spending time on keys). */
export async function ensureWritableDir(dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true, mode: 0o755 });
    await access(dir, constants.W_OK | constants.X_OK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? '';
    const reason = DIR_ERRORS[code] ?? (error instanceof Error ? error.message : String(error));
    throw new PkiError('PKI_DIR_UNWRITABLE', `cannot write to directory ${dir}: ${reason}`);
  }
}

/** True when anything (even a dangling symlink) occupies the path. */
export async function pathExists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch {
    return false;
  }
}
