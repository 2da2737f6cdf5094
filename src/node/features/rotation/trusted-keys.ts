// The keys of one kind a verifier of this node's signatures accepts now, read from the data dir (or the
// secret) and the transparency log without creating or changing anything: the current key and the keys
// the rotations that led to it replaced, while their dual-trust window lasts. What a KeyRing holds, for
// commands that run beside the node (`tessera capability verify`).
import { join } from 'node:path';
import type { NodeKey } from '../identity/node-key.ts';
import { publicKeyFromRaw } from '../identity/node-key.ts';
import { currentKeyFile, type KeyKind, readKey } from './key-files.ts';
import { chainTo } from './key-history.ts';
import type { RetiredKey } from './key-ring.ts';
import { inWindow } from './rotation-event.ts';
import { rotationEventsOf, tlogPath } from './tlog.ts';

export interface TrustedKeys {
  current: NodeKey;
  /** Replaced keys still inside their window, newest rotation first. */
  retired: RetiredKey[];
}

/** Null when there is no current key (no secret given and no key file: the node never started here). */
export async function readTrustedKeys(options: {
  dataDir: string;
  kind: KeyKind;
  tlogPath?: string;
  /** The key given as a secret (TESSERA_…_PRIVATE_KEY), instead of the data dir's file. */
  secret?: NodeKey;
  now: Date;
}): Promise<TrustedKeys | null> {
  const current = options.secret ?? (await readKey(join(options.dataDir, currentKeyFile(options.kind))));
  if (!current) return null;
  const events = (await rotationEventsOf(options.tlogPath ?? tlogPath(options.dataDir))).filter(
    (event) => event.kind === options.kind,
  );
  const retired = chainTo(events, current.keyId)
    .filter((event) => inWindow(event, options.now))
    .reverse()
    .map((event) => ({
      keyId: event.old_key_id,
      publicKeyB64: event.old_public_key,
      publicKey: publicKeyFromRaw(event.old_public_key),
      notAfter: new Date(event.dual_trust_until),
    }));
  return { current, retired };
}
