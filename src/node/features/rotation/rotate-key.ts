// `rotateKey`: replace the node or issuer key with a new one, announced by a rotation event signed by the
// old key. Order of the steps, so that a crash at any point leaves a usable data dir:
//   1. the new key is written as <kind>-key.<new>.pending.pem and the old one copied to …<old>.retired.pem;
//   2. the signed event is appended to the transparency log: this is the commit point;
//   3. the pending file is renamed over <kind>-key.pem (the running node's KeyRing then switches).
// A crash before 2 leaves an orphan pending file (deleted at the next rotation or key ring load); a crash
// between 2 and 3 is completed by `recoverPendingRotation` (the log says the new key is current).
import { readdir, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { RotationError } from './errors.ts';
import {
  currentKeyFile,
  generateKey,
  type KeyKind,
  pendingKeyFile,
  readKey,
  removeFile,
  retiredKeyFile,
  writeKeyFile,
} from './key-files.ts';
import { withDataDirLock } from './lock.ts';
import { type SignedRotationEvent, signRotationEvent } from './rotation-event.ts';
import { appendTlog, readTlog, rotationEventsOf, tlogPath } from './tlog.ts';

/** Capability tokens live up to 90 days, so a rotated issuer key must verify them that long. */
export const MIN_ISSUER_DUAL_TRUST_DAYS = 90;
export const DEFAULT_DUAL_TRUST_DAYS: Record<KeyKind, number> = { node: 7, issuer: 90 };
export const MAX_DUAL_TRUST_DAYS = 3650;
const DAY_MS = 86_400_000;

export interface RotateKeyOptions {
  dataDir: string;
  kind: KeyKind;
  /** The transparency log (TESSERA_TL_LOCAL_PATH); default `<dataDir>/tlog.jsonl`. */
  tlogPath?: string;
  /** Default 7 for node, 90 for issuer. */
  dualTrustDays?: number;
  /** Compute and sign everything, write nothing. */
  dryRun?: boolean;
  now?: Date;
}

export interface RotationResult {
  kind: KeyKind;
  dryRun: boolean;
  oldKeyId: string;
  oldFingerprint: string;
  newKeyId: string;
  newFingerprint: string;
  rotatedAt: string;
  dualTrustUntil: string;
  event: SignedRotationEvent;
  /** Index of the rotation entry in the transparency log (the index it would get, on a dry run). */
  tlogIndex: number;
  /** Where the old private key is kept until the window ends (not written on a dry run). */
  retiredKeyPath: string;
}

export function checkDualTrustDays(kind: KeyKind, days: number): void {
  if (!Number.isInteger(days) || days < 1 || days > MAX_DUAL_TRUST_DAYS)
    throw new RotationError(
      'dual_trust_invalid',
      `--dual-trust-days must be a whole number of days from 1 to ${MAX_DUAL_TRUST_DAYS} (got ${days})`,
    );
  if (kind === 'issuer' && days < MIN_ISSUER_DUAL_TRUST_DAYS)
    throw new RotationError(
      'dual_trust_too_short',
      `an issuer key must stay trusted at least ${MIN_ISSUER_DUAL_TRUST_DAYS} days after rotation (capability tokens live up to 90 days); got ${days}`,
    );
}

export async function rotateKey(options: RotateKeyOptions): Promise<RotationResult> {
  const { dataDir, kind } = options;
  const log = options.tlogPath ?? tlogPath(dataDir);
  const days = options.dualTrustDays ?? DEFAULT_DUAL_TRUST_DAYS[kind];
  checkDualTrustDays(kind, days);
  const now = options.now ?? new Date();
  const run = async (): Promise<RotationResult> => {
    if (!options.dryRun) await recoverPendingRotation(dataDir, kind, log);
    const currentPath = join(dataDir, currentKeyFile(kind));
    const oldKey = await readKey(currentPath);
    if (!oldKey)
      throw new RotationError(
        'key_missing',
        `no ${kind} key at ${currentPath}: start the node once with this data dir (it creates its keys), or check --data-dir`,
      );
    const newKey = generateKey();
    const dualTrustUntil = new Date(now.getTime() + days * DAY_MS);
    const event = signRotationEvent({ kind, oldKey, newKey, rotatedAt: now, dualTrustUntil });
    const retiredKeyPath = join(dataDir, retiredKeyFile(kind, oldKey.keyId));
    const result = {
      kind,
      dryRun: options.dryRun === true,
      oldKeyId: oldKey.keyId,
      oldFingerprint: oldKey.fingerprint,
      newKeyId: newKey.keyId,
      newFingerprint: newKey.fingerprint,
      rotatedAt: event.rotated_at,
      dualTrustUntil: event.dual_trust_until,
      event,
      retiredKeyPath,
    };
    if (options.dryRun) {
      const last = (await readTlog(log)).at(-1);
      return { ...result, tlogIndex: (last?.index ?? -1) + 1 };
    }
    const pendingPath = join(dataDir, pendingKeyFile(kind, newKey.keyId));
    await writeKeyFile(pendingPath, newKey);
    await writeKeyFile(retiredKeyPath, oldKey);
    let index: number;
    try {
      index = (
        await appendTlog(dataDir, { kind: 'rotation', payload: event, ts: now }, { locked: true, path: log })
      ).index;
    } catch (error) {
      await removeFile(pendingPath);
      throw error;
    }
    await commitPending(pendingPath, currentPath);
    return { ...result, tlogIndex: index };
  };
  return options.dryRun ? run() : withDataDirLock(dataDir, run);
}

async function commitPending(pendingPath: string, currentPath: string): Promise<void> {
  try {
    await rename(pendingPath, currentPath);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'error';
    throw new RotationError(
      'write_failed',
      `the rotation is logged but ${pendingPath} could not replace ${currentPath} (${code}); the next rotation or node start completes it`,
    );
  }
}

/**
 * Finishes or discards a rotation a crash interrupted: a pending key that the log's last rotation of this
 * kind made current replaces the current key file; any other pending file is discarded. Caller holds the
 * data dir lock (or accepts that a concurrent rotation may be in its step 1). Returns the committed key id.
 */
export async function recoverPendingRotation(
  dataDir: string,
  kind: KeyKind,
  log: string = tlogPath(dataDir),
): Promise<string | null> {
  const pattern = new RegExp(`^${kind}-key\\.([0-9a-f]{16})\\.pending\\.pem$`);
  const pending = (await readdir(dataDir).catch(() => [] as string[]))
    .map((name) => ({ name, id: pattern.exec(name)?.[1] }))
    .filter((p): p is { name: string; id: string } => p.id !== undefined);
  if (pending.length === 0) return null;
  const last = (await rotationEventsOf(log)).filter((e) => e.kind === kind).at(-1);
  const currentPath = join(dataDir, currentKeyFile(kind));
  const current = await readKey(currentPath);
  let committed: string | null = null;
  for (const file of pending) {
    const path = join(dataDir, file.name);
    if (last && last.new_key_id === file.id && current?.keyId === last.old_key_id) {
      await commitPending(path, currentPath);
      committed = file.id;
    } else await removeFile(path);
  }
  return committed;
}
