// The node's Ed25519 signing key: it signs the manifest and the peer tokens, so it is the node's identity
// above TLS. Sources, first match wins: a base64url seed (TESSERA_NODE_PRIVATE_KEY, passed in by the
// caller), a PEM file (TESSERA_NODE_KEY_PATH), else <dataDir>/node-key.pem, created on first start.
// Key files must not be readable by group or others (as ssh insists); errors never carry key material.
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  randomBytes,
} from 'node:crypto';
import { constants } from 'node:fs';
import { link, mkdir, open, readFile, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { syncDirectory } from '../../../pki/sync-dir.ts';

export const NODE_KEY_FILE = 'node-key.pem';

export type NodeKeyErrorCode =
  | 'NODE_KEY_INVALID'
  | 'NODE_KEY_UNREADABLE'
  | 'NODE_KEY_PERMISSIONS'
  | 'NODE_KEY_CONFLICT'
  | 'NODE_KEY_WRITE_FAILED'
  /** A key given as a secret that a logged rotation replaced (the operator must install the new seed). */
  | 'NODE_KEY_RETIRED';

/** A start-up failure of the node key, shaped like TlsError: a stable code, a message naming the source. */
export class NodeKeyError extends Error {
  override readonly name = 'NodeKeyError';
  constructor(
    readonly code: NodeKeyErrorCode,
    message: string,
    readonly file?: string,
  ) {
    super(`${code}: ${message}`);
  }
}

export interface NodeKey {
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** The raw 32-byte public key, base64url without padding (the manifest's `public_key`). */
  publicKeyB64: string;
  /** First 16 hex digits of SHA-256 over the raw public key (the manifest's `key_id`, the JWT `kid`). */
  keyId: string;
  /** `sha256:` + hex SHA-256 of the raw public key: what operators compare out of band. */
  fingerprint: string;
  /** Where the key came from: 'seed' (env), 'file' (given path), 'created' or 'data-dir'. */
  source: 'seed' | 'file' | 'created' | 'data-dir';
  /** The PEM file, unless the key came from a seed. */
  path?: string;
}

export interface LoadNodeKeyOptions {
  dataDir: string;
  /** A base64url 32-byte Ed25519 seed (the value of TESSERA_NODE_PRIVATE_KEY). */
  privateKeyB64?: string;
  /** A PKCS#8 PEM Ed25519 private key file (TESSERA_NODE_KEY_PATH). */
  keyPath?: string;
  /** The file name inside dataDir; default node-key.pem (the issuer key uses issuer-key.pem). */
  fileName?: string;
}

const SEED_ENV = 'TESSERA_NODE_PRIVATE_KEY';
// PKCS#8 DER of an Ed25519 private key is this fixed prefix followed by the 32-byte seed (RFC 8410).
const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

export async function loadOrCreateNodeKey(options: LoadNodeKeyOptions): Promise<NodeKey> {
  const seed = options.privateKeyB64?.trim();
  const keyPath = options.keyPath?.trim();
  if (seed && keyPath)
    throw new NodeKeyError(
      'NODE_KEY_CONFLICT',
      `both ${SEED_ENV} and a node key file (${keyPath}) are set; give only one`,
    );
  if (seed) return nodeKeyFrom(privateKeyFromSeed(seed), 'seed');
  if (keyPath) return nodeKeyFrom(await readKeyFile(keyPath), 'file', keyPath);

  const path = join(options.dataDir, options.fileName ?? NODE_KEY_FILE);
  const existing = await readKeyFile(path, { missingOk: true });
  if (existing) return nodeKeyFrom(existing, 'data-dir', path);
  const created = await createKeyFile(options.dataDir, path);
  return nodeKeyFrom(created.key, created.won ? 'created' : 'data-dir', path);
}

/** `sha256:<hex>` and the key id of a raw base64url Ed25519 public key (as a peer's manifest carries it). */
export function describePublicKey(publicKeyB64: string): { keyId: string; fingerprint: string } {
  const hex = createHash('sha256').update(Buffer.from(publicKeyB64, 'base64url')).digest('hex');
  return { keyId: hex.slice(0, 16), fingerprint: `sha256:${hex}` };
}

/** Rebuilds the KeyObject of a raw base64url Ed25519 public key. */
export function publicKeyFromRaw(publicKeyB64: string): KeyObject {
  return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: publicKeyB64 }, format: 'jwk' });
}

/** The NodeKey view (public key, key id, fingerprint) of an Ed25519 private key. */
export function nodeKeyFrom(privateKey: KeyObject, source: NodeKey['source'], path?: string): NodeKey {
  const publicKey = createPublicKey(privateKey);
  const publicKeyB64 = publicKey.export({ format: 'jwk' }).x as string;
  return {
    privateKey,
    publicKey,
    publicKeyB64,
    ...describePublicKey(publicKeyB64),
    source,
    ...(path ? { path } : {}),
  };
}

/**
 * The base64url 32-byte seed of an Ed25519 private key: the form TESSERA_NODE_PRIVATE_KEY and
 * TESSERA_ISSUER_PRIVATE_KEY take. A secret: only for the operator to put in a secrets manager.
 */
export function seedOf(privateKey: KeyObject): string {
  const der = privateKey.export({ type: 'pkcs8', format: 'der' });
  if (der.length !== 48 || !der.subarray(0, 16).equals(PKCS8_ED25519_PREFIX))
    throw new TypeError('not an Ed25519 private key');
  return der.subarray(16).toString('base64url');
}

function privateKeyFromSeed(seed: string): KeyObject {
  // Strict alphabet and length first: Buffer.from(…, 'base64url') silently skips garbage.
  const bytes = /^[A-Za-z0-9_-]{43}=?$/.test(seed) ? Buffer.from(seed, 'base64url') : null;
  if (bytes?.length !== 32)
    throw new NodeKeyError(
      'NODE_KEY_INVALID',
      `${SEED_ENV} must be a base64url-encoded 32-byte Ed25519 seed (43 characters)`,
    );
  return createPrivateKey({
    key: Buffer.concat([PKCS8_ED25519_PREFIX, bytes]),
    format: 'der',
    type: 'pkcs8',
  });
}

function privateKeyFromPem(pem: string, file: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: pem, format: 'pem' });
  } catch {
    // The library's message is not passed on: it is not needed and we never echo key files.
    throw new NodeKeyError('NODE_KEY_INVALID', `${file} is not a readable unencrypted PEM private key`, file);
  }
  if (key.asymmetricKeyType !== 'ed25519')
    throw new NodeKeyError(
      'NODE_KEY_INVALID',
      `${file} holds a ${key.asymmetricKeyType ?? 'unknown'} key; the node key must be Ed25519`,
      file,
    );
  return key;
}

async function readKeyFile(file: string, options: { missingOk: true }): Promise<KeyObject | null>;
async function readKeyFile(file: string): Promise<KeyObject>;
async function readKeyFile(file: string, options?: { missingOk: true }): Promise<KeyObject | null> {
  let mode: number;
  try {
    const info = await stat(file);
    if (!info.isFile()) throw new NodeKeyError('NODE_KEY_UNREADABLE', `${file} is not a file`, file);
    mode = info.mode;
  } catch (error) {
    if (error instanceof NodeKeyError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && options?.missingOk) return null;
    throw new NodeKeyError('NODE_KEY_UNREADABLE', `cannot read node key ${file} (${code ?? 'error'})`, file);
  }
  checkPermissions(file, mode);
  let pem: string;
  try {
    pem = await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'error';
    throw new NodeKeyError('NODE_KEY_UNREADABLE', `cannot read node key ${file} (${code})`, file);
  }
  return privateKeyFromPem(pem, file);
}

function checkPermissions(file: string, mode: number): void {
  if (process.platform === 'win32' || (mode & 0o077) === 0) return;
  const octal = (mode & 0o777).toString(8).padStart(4, '0');
  throw new NodeKeyError(
    'NODE_KEY_PERMISSIONS',
    `node key ${file} has mode ${octal} and is accessible by group or others; run chmod 600 ${file}` +
      ' (in Kubernetes, mount the secret with defaultMode 0400)',
    file,
  );
}

/**
 * Writes a new key with mode 0600 from its creation, then links it into place: link() never replaces an
 * existing file, so two processes starting at once agree on one key (the loser reads the winner's).
 */
async function createKeyFile(dataDir: string, path: string): Promise<{ key: KeyObject; won: boolean }> {
  const { privateKey } = generateKeyPairSync('ed25519');
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  const temp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    await mkdir(dataDir, { recursive: true, mode: 0o700 });
    const handle = await open(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
    try {
      await handle.writeFile(pem);
      await handle.chmod(0o600);
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch (error) {
    await unlink(temp).catch(() => {});
    const code = (error as NodeJS.ErrnoException).code ?? 'error';
    throw new NodeKeyError('NODE_KEY_WRITE_FAILED', `cannot create node key ${path} (${code})`, path);
  }
  try {
    await link(temp, path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') {
      return { key: await readKeyFile(path), won: false };
    }
    const code = (error as NodeJS.ErrnoException).code ?? 'error';
    throw new NodeKeyError('NODE_KEY_WRITE_FAILED', `cannot create node key ${path} (${code})`, path);
  } finally {
    await unlink(temp).catch(() => {});
  }
  await syncDirectory(dataDir);
  return { key: privateKey, won: true };
}
