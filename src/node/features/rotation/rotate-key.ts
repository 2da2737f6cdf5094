// `rotateKey`: replace the node or issuer key with a new one, announced by a rotation event signed by the
// old key. Each rotation appends two entries to the transparency log in one write: the manifest the node
// serves once the new key is in use (signed by the node key, carrying the event), then the signed event.
// A key kept in the data dir is swapped in by these steps, so that a crash at any point leaves a usable
// data dir:
//   1. the new key is written as <kind>-key.<new>.pending.pem and the old one copied to …<old>.retired.pem;
//   2. the two entries are appended to the transparency log: this is the commit point;
//   3. the pending file is renamed over <kind>-key.pem (the running node's KeyRing then switches).
// A crash before 2 leaves an orphan pending file (deleted at the next rotation or key ring load); a crash
// between 2 and 3 is completed by `recoverPendingRotation` (the log says the new key is current).
// A key given as a secret (TESSERA_NODE_PRIVATE_KEY / TESSERA_ISSUER_PRIVATE_KEY) has no file: nothing
// but the log is written, and the new key exists only in the result, for the operator's secrets manager.
// `beforeCommit` runs between preparing the append and committing it, so a caller that must show the new
// seed does so first: a rotation whose seed was never shown is never committed.
import { readdir, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { buildManifest, type SignedManifest } from '../identity/manifest.ts';
import type { NodeKey } from '../identity/node-key.ts';
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
import { chainTo, type KeyStanding, standingOf } from './key-history.ts';
import { withDataDirLock } from './lock.ts';
import { inWindow, type SignedRotationEvent, signRotationEvent } from './rotation-event.ts';
import { checkAppendable, prepareAppend, rotationEntriesOf, rotationEventsOf, tlogPath } from './tlog.ts';

/** Capability tokens live up to 90 days, so a rotated issuer key must verify them that long. */
export const MIN_ISSUER_DUAL_TRUST_DAYS = 90;
export const DEFAULT_DUAL_TRUST_DAYS: Record<KeyKind, number> = { node: 7, issuer: 90 };
export const MAX_DUAL_TRUST_DAYS = 3650;
const DAY_MS = 86_400_000;

/** What the manifest logged with a rotation needs besides the rotated key. */
export interface RotationManifestContext {
  /** TESSERA_ENTITY_URI. */
  entityUri: string;
  /** The TLS leaf the node serves (TESSERA_TLS_CERT_PATH): hex SHA-256 of its SPKI and of its DER. */
  tls?: { spkiSha256: string; certSha256: string };
  /**
   * The current key of the other kind: the node key (it signs the manifest) when rotating the issuer key,
   * required; the issuer key, when there is one, when rotating the node key.
   */
  otherKey?: NodeKey;
}

export interface RotateKeyOptions {
  dataDir: string;
  kind: KeyKind;
  /** The transparency log (TESSERA_TL_LOCAL_PATH); default `<dataDir>/tlog.jsonl`. */
  tlogPath?: string;
  /** Default 7 for node, 90 for issuer. */
  dualTrustDays?: number;
  /** Compute and sign everything, check that the log can be appended to, write nothing. */
  dryRun?: boolean;
  now?: Date;
  /** The current key when the operator gives it as a secret: no key file is read or written. */
  secret?: NodeKey;
  /**
   * The last rotation of this kind is from the current key but its new key was never installed (its seed
   * was lost): rotate from the current key again; the new event replaces that one, whose key is never used.
   */
  replacePending?: boolean;
  /** What the logged manifest needs; without it only the event is logged (no manifest entry). */
  manifest?: RotationManifestContext;
  /** Called once, prepared but not committed (not on a dry run); a rejection aborts the rotation. */
  beforeCommit?: (result: RotationResult) => Promise<void>;
}

export interface RotationResult {
  kind: KeyKind;
  dryRun: boolean;
  /** The old key was given as a secret (its replacement must be installed by the operator). */
  fromSecret: boolean;
  oldKeyId: string;
  oldFingerprint: string;
  newKeyId: string;
  newFingerprint: string;
  /** The new key itself, private part included: a secret, for the operator's secrets manager only. */
  newKey: NodeKey;
  rotatedAt: string;
  dualTrustUntil: string;
  event: SignedRotationEvent;
  /** The manifest the node serves once the new key is in use (null when no manifest context was given). */
  manifest: SignedManifest | null;
  /** Transparency log index of the rotation event (the index it would get, on a dry run). */
  rotationIndex: number;
  /** Transparency log index of the manifest (likewise); null when none is logged. */
  manifestIndex: number | null;
  /** Where the old private key is kept until the window ends; null for a secret (and not written on a dry run). */
  retiredKeyPath: string | null;
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
  const { dataDir, kind, secret } = options;
  const log = options.tlogPath ?? tlogPath(dataDir);
  const days = options.dualTrustDays ?? DEFAULT_DUAL_TRUST_DAYS[kind];
  checkDualTrustDays(kind, days);
  // Whole seconds: the event's times are printed and compared as RFC 3339 without fractions.
  const now = new Date(Math.floor((options.now ?? new Date()).getTime() / 1000) * 1000);
  const run = async (): Promise<RotationResult> => {
    // A problem with the log is reported before any key is generated or any file touched.
    const nextIndex = await checkAppendable(log);
    if (!options.dryRun && !secret) await recoverPendingRotation(dataDir, kind, log);
    const currentPath = join(dataDir, currentKeyFile(kind));
    const oldKey = secret ?? (await readKey(currentPath));
    if (!oldKey)
      throw new RotationError(
        'key_missing',
        `no ${kind} key at ${currentPath}: start the node once with this data dir (it creates its keys), or check --data-dir`,
      );
    const entries = await rotationEntriesOf(log);
    const ofKind = (k: KeyKind) => entries.filter((e) => e.event.kind === k);
    checkStanding(
      kind,
      standingOf(
        ofKind(kind).map((e) => e.event),
        oldKey.keyId,
        ofKind(kind).map((e) => e.index),
      ),
      options,
    );
    const newKey = generateKey();
    const dualTrustUntil = new Date(now.getTime() + days * DAY_MS);
    const event = signRotationEvent({ kind, oldKey, newKey, rotatedAt: now, dualTrustUntil });
    const manifest = options.manifest
      ? manifestAfter(kind, newKey, event, ofKind, options.manifest, now)
      : null;
    const retiredKeyPath = secret ? null : join(dataDir, retiredKeyFile(kind, oldKey.keyId));
    const result: RotationResult = {
      kind,
      dryRun: options.dryRun === true,
      fromSecret: secret !== undefined,
      oldKeyId: oldKey.keyId,
      oldFingerprint: oldKey.fingerprint,
      newKeyId: newKey.keyId,
      newFingerprint: newKey.fingerprint,
      newKey,
      rotatedAt: event.rotated_at,
      dualTrustUntil: event.dual_trust_until,
      event,
      manifest,
      rotationIndex: manifest ? nextIndex + 1 : nextIndex,
      manifestIndex: manifest ? nextIndex : null,
      retiredKeyPath,
    };
    if (options.dryRun) return result;

    // The event last (as the Stigmem tutorial numbers them): a torn write never leaves it without its manifest.
    const append = await prepareAppend(log, [
      ...(manifest ? [{ kind: 'manifest' as const, payload: manifest, ts: now }] : []),
      { kind: 'rotation', payload: event, ts: now },
    ]);
    result.rotationIndex = append.entries.at(-1)?.index ?? nextIndex;
    result.manifestIndex = manifest ? (append.entries[0]?.index ?? null) : null;
    const pendingPath = secret ? null : join(dataDir, pendingKeyFile(kind, newKey.keyId));
    const undo = async () => {
      if (pendingPath) await removeFile(pendingPath);
      if (retiredKeyPath) await removeFile(retiredKeyPath);
    };
    try {
      if (pendingPath && retiredKeyPath) {
        await writeKeyFile(pendingPath, newKey);
        await writeKeyFile(retiredKeyPath, oldKey);
      }
      await options.beforeCommit?.(result);
    } catch (error) {
      await append.abandon();
      await undo();
      throw error;
    }
    try {
      await append.commit();
    } catch (error) {
      await undo();
      throw error;
    }
    if (pendingPath) await commitPending(pendingPath, currentPath);
    return result;
  };
  return options.dryRun ? run() : withDataDirLock(dataDir, run);
}

/** A rotation must hand over from the key the log made current; anything else would break the chain. */
function checkStanding(kind: KeyKind, standing: KeyStanding, options: RotateKeyOptions): void {
  const where = options.secret ? `the ${kind} key secret` : `the ${kind} key file`;
  switch (standing.state) {
    case 'current':
      return;
    case 'pending':
      if (options.replacePending) return;
      throw new RotationError(
        'rotation_pending',
        `the ${kind} key ${standing.event.old_key_id} was already rotated to ${standing.event.new_key_id} at ${standing.event.rotated_at} (transparency log index ${standing.index}), but ${where} still holds the old key: install the seed that rotation printed and restart the node. If that seed is lost, rotate again with --replace-pending (key ${standing.event.new_key_id} is then never used)`,
      );
    case 'retired':
    case 'superseded':
      throw new RotationError(
        'key_retired',
        `${where} holds the ${kind} key ${standing.state === 'retired' ? standing.event.old_key_id : standing.event.new_key_id}, which the transparency log says was replaced (index ${standing.index}): it must hold the current ${kind} key`,
      );
    case 'unlogged':
      throw new RotationError(
        'key_unlogged',
        `${where} holds a ${kind} key the transparency log never names, while its last ${kind} rotation made ${standing.head.new_key_id} current: the key was replaced without a rotation event, so a rotation from it proves nothing to peers. Restore the key ${standing.head.new_key_id}, then rotate`,
      );
  }
}

/** The manifest the node serves with the new key: both kinds' rotation events still in their window. */
function manifestAfter(
  kind: KeyKind,
  newKey: NodeKey,
  event: SignedRotationEvent,
  ofKind: (k: KeyKind) => { event: SignedRotationEvent }[],
  context: RotationManifestContext,
  now: Date,
): SignedManifest {
  const other: KeyKind = kind === 'node' ? 'issuer' : 'node';
  const nodeKey = kind === 'node' ? newKey : context.otherKey;
  const issuerKey = kind === 'issuer' ? newKey : context.otherKey;
  if (!nodeKey)
    throw new RotationError(
      'key_missing',
      'the node key is needed to sign the manifest logged with the issuer rotation: give it as the node does (data dir, TESSERA_NODE_PRIVATE_KEY or TESSERA_NODE_KEY_PATH)',
    );
  const chains: Record<KeyKind, SignedRotationEvent[]> = {
    [kind]: chainTo([...ofKind(kind).map((e) => e.event), event], newKey.keyId),
    [other]: context.otherKey
      ? chainTo(
          ofKind(other).map((e) => e.event),
          context.otherKey.keyId,
        )
      : [],
  } as Record<KeyKind, SignedRotationEvent[]>;
  return buildManifest({
    nodeKey,
    entityUri: context.entityUri,
    tlsSpkiSha256: context.tls?.spkiSha256 ?? '',
    ...(context.tls ? { tlsCertSha256: context.tls.certSha256 } : {}),
    now,
    rotationEvents: [...chains.node, ...chains.issuer].filter((e) => inWindow(e, now)),
    ...(issuerKey ? { issuerKey } : {}),
  });
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
