// Where the node's two Ed25519 keys live in the data dir, and the file operations rotation needs:
//   <kind>-key.pem                       the current key (node-key.pem is what loadOrCreateNodeKey reads)
//   <kind>-key.<new_key_id>.pending.pem  a rotation's new key, before the rotation is committed
//   <kind>-key.<old_key_id>.retired.pem  a rotated-out key, kept until its dual-trust window ends
// Every file is 0600 from creation and replaced by rename, so a reader sees an old or a new key, never half.
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFilesAtomically } from '../../../pki/atomic-write.ts';
import { loadOrCreateNodeKey, type NodeKey, NodeKeyError, nodeKeyFrom } from '../identity/node-key.ts';
import { RotationError } from './errors.ts';

export const KEY_KINDS = ['node', 'issuer'] as const;
export type KeyKind = (typeof KEY_KINDS)[number];

export function currentKeyFile(kind: KeyKind): string {
  return `${kind}-key.pem`;
}

export function pendingKeyFile(kind: KeyKind, keyId: string): string {
  return `${kind}-key.${keyId}.pending.pem`;
}

export function retiredKeyFile(kind: KeyKind, keyId: string): string {
  return `${kind}-key.${keyId}.retired.pem`;
}

export function parseKind(value: string): KeyKind {
  if ((KEY_KINDS as readonly string[]).includes(value)) return value as KeyKind;
  throw new RotationError('invalid_kind', `--kind must be node or issuer (got "${value}")`);
}

/** The current key of a kind, created on first use (as the node does for its node key). */
export async function loadOrCreateKey(dataDir: string, kind: KeyKind): Promise<NodeKey> {
  try {
    return await loadOrCreateNodeKey({ dataDir, fileName: currentKeyFile(kind) });
  } catch (error) {
    throw asRotationError(error);
  }
}

/** Reads an existing key file (permissions checked); null when it does not exist. */
export async function readKey(path: string): Promise<NodeKey | null> {
  const exists = await stat(path).then(
    () => true,
    (error: NodeJS.ErrnoException) => error.code !== 'ENOENT',
  );
  if (!exists) return null;
  try {
    return await loadOrCreateNodeKey({ dataDir: '', keyPath: path });
  } catch (error) {
    throw asRotationError(error);
  }
}

export function generateKey(): NodeKey {
  const { privateKey } = generateKeyPairSync('ed25519');
  return nodeKeyFrom(privateKey, 'created');
}

function pem(key: KeyObject): string {
  return key.export({ type: 'pkcs8', format: 'pem' }) as string;
}

/** Writes (or replaces) a private key file, 0600, atomically. */
export async function writeKeyFile(path: string, key: NodeKey): Promise<void> {
  try {
    await writeFilesAtomically([{ path, data: pem(key.privateKey), mode: 0o600 }]);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'error';
    throw new RotationError('write_failed', `cannot write ${path} (${code})`);
  }
}

/** Retired key files of a kind in the data dir: key id → path. */
export async function listRetiredKeyFiles(dataDir: string, kind: KeyKind): Promise<Map<string, string>> {
  const pattern = new RegExp(`^${kind}-key\\.([0-9a-f]{16})\\.retired\\.pem$`);
  const found = new Map<string, string>();
  for (const name of await readdir(dataDir).catch(() => [] as string[])) {
    const id = pattern.exec(name)?.[1];
    if (id) found.set(id, join(dataDir, name));
  }
  return found;
}

export async function removeFile(path: string): Promise<void> {
  await rm(path, { force: true });
}

function asRotationError(error: unknown): RotationError {
  if (error instanceof RotationError) return error;
  if (error instanceof NodeKeyError) return new RotationError('key_unreadable', error.message);
  return new RotationError('key_unreadable', (error as Error).message);
}
