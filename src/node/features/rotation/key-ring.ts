// The running node's view of one key kind (node or issuer): the current key, used for signing, and the
// keys it rotated out that are still inside their dual-trust window, used for verifying. `tessera identity
// rotate-key` changes the files in the data dir; the node calls reload() (on a file event, a poll or
// SIGHUP, see watch()) and switches without a restart. A reload that fails keeps the last good state.
// Only open() (the first start) may create a key: a key file that disappears later is an error, never a
// fresh key, since that would be a rotation without a signed event and the old key would be lost.
// A key given as a secret (TESSERA_NODE_PRIVATE_KEY / TESSERA_ISSUER_PRIVATE_KEY) is used as it is: no key
// file is read or written, the operator installs a rotation's new seed and restarts. Its ring still reads
// the log, so the rotation that led to it is in the manifest and the key it replaced verifies until its
// window ends; a secret the log says was replaced is refused at start (see refuseStaleSecret).

import type { KeyObject } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { readdir } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { type Clock, systemClock } from '../../../tls/clock.ts';
import { watchFiles } from '../../../tls/file-watch.ts';
import { type NodeKey, NodeKeyError } from '../identity/node-key.ts';
import { PublicKeyCache } from '../identity/public-key-cache.ts';
import { RotationError } from './errors.ts';
import {
  currentKeyFile,
  type KeyKind,
  listRetiredKeyFiles,
  loadOrCreateKey,
  readKey,
  removeFile,
} from './key-files.ts';
import { chainTo, type KeyStanding, standingOf } from './key-history.ts';
import { withDataDirLock } from './lock.ts';
import { recoverPendingRotation } from './rotate-key.ts';
import { inWindow, type SignedRotationEvent } from './rotation-event.ts';
import { rotationEntriesOf, tlogPath } from './tlog.ts';

export interface RetiredKey {
  keyId: string;
  publicKeyB64: string;
  publicKey: KeyObject;
  /** End of the dual-trust window: after it the key is no longer accepted. */
  notAfter: Date;
}

export interface KeyRingReload {
  changed: boolean;
  previousKeyId: string;
  keyId: string;
}

export interface KeyRingOptions {
  dataDir: string;
  kind: KeyKind;
  /** The transparency log (TESSERA_TL_LOCAL_PATH); default `<dataDir>/tlog.jsonl`. */
  tlogPath?: string;
  clock?: Clock;
  /** The key given as a secret, and the names of its variables (for messages); no key file is used. */
  secret?: { key: NodeKey; name: string };
}

interface State {
  current: NodeKey;
  /** The rotation events that lead to the current key, oldest first (windows are checked at use). */
  events: SignedRotationEvent[];
  /** Where the current key stands in the log (a secret may lag behind a rotation). */
  standing: KeyStanding;
}

export class KeyRing extends EventEmitter<{
  change: [KeyRingReload];
  /** A rotation from the secret key was logged: the operator must install its new seed and restart. */
  pending: [Extract<KeyStanding, { state: 'pending' }>];
  error: [Error];
}> {
  #state: State;
  #reloading: Promise<KeyRingReload> | undefined;
  readonly #clock: Clock;
  readonly #keys = new PublicKeyCache();

  private constructor(
    readonly options: KeyRingOptions,
    state: State,
  ) {
    super();
    this.#state = state;
    this.#clock = options.clock ?? systemClock;
  }

  static async open(options: KeyRingOptions): Promise<KeyRing> {
    return new KeyRing(options, await readState(options, 'open'));
  }

  get kind(): KeyKind {
    return this.options.kind;
  }

  /** The key to sign with. */
  current(): NodeKey {
    return this.#state.current;
  }

  /** Where the current key stands in the log: `pending` when a secret awaits its rotation's new seed. */
  standing(): KeyStanding {
    return this.#state.standing;
  }

  /** Rotated-out keys still inside their window, newest rotation first. */
  retired(now: Date = this.#clock()): RetiredKey[] {
    return this.#state.events
      .filter((event) => inWindow(event, now))
      .reverse()
      .map((event) => ({
        keyId: event.old_key_id,
        publicKeyB64: event.old_public_key,
        publicKey: this.#keys.get(event.old_public_key),
        notAfter: new Date(event.dual_trust_until),
      }));
  }

  /** Every key a signature by this node may verify with now: the current one first. */
  verificationKeys(now: Date = this.#clock()): KeyObject[] {
    return [this.#state.current.publicKey, ...this.retired(now).map((k) => k.publicKey)];
  }

  /** The signed events still inside their window: what the manifest's `rotation_events` carries. */
  rotationEvents(now: Date = this.#clock()): SignedRotationEvent[] {
    return this.#state.events.filter((event) => inWindow(event, now));
  }

  /**
   * Re-reads the key and the log; single-flight. Emits `change` when the current key changed. A failure
   * (key file missing or unreadable, log corrupt) is emitted as `error` and rejects; the current key stays.
   */
  reload(): Promise<KeyRingReload> {
    this.#reloading ??= (async () => {
      try {
        const previousKeyId = this.#state.current.keyId;
        const next = await readState(this.options, 'reload').catch((error: Error) => {
          // With no listener, emit() would throw the error itself: the caller still gets it below.
          if (this.listenerCount('error') > 0) this.emit('error', error);
          throw error;
        });
        const before = this.#state.standing;
        this.#state = next;
        if (
          next.standing.state === 'pending' &&
          (before.state !== 'pending' || before.event.signature !== next.standing.event.signature)
        )
          this.emit('pending', next.standing);
        const result = {
          changed: next.current.keyId !== previousKeyId,
          previousKeyId,
          keyId: next.current.keyId,
        };
        if (result.changed) this.emit('change', result);
        return result;
      } finally {
        this.#reloading = undefined;
      }
    })();
    return this.#reloading;
  }

  /** Deletes retired private key files whose window has ended; returns their key ids. */
  async pruneRetired(now: Date = this.#clock()): Promise<string[]> {
    const live = new Set(this.retired(now).map((k) => k.keyId));
    const removed: string[] = [];
    for (const [keyId, path] of await listRetiredKeyFiles(this.options.dataDir, this.options.kind)) {
      if (live.has(keyId)) continue;
      await removeFile(path);
      removed.push(keyId);
    }
    return removed;
  }

  /**
   * Reloads when the key file or the log changes (fs.watch on the data dir), every `pollMs` as a fallback
   * (network file systems miss events), and on SIGHUP unless `sighup: false`. Failures are emitted as
   * `error` and the last good keys stay in use. Returns a function that stops watching.
   */
  watch(options: { pollMs?: number; debounceMs?: number; sighup?: boolean } = {}): () => void {
    const log = logOf(this.options);
    // A secret key has no file: only the log can change.
    const names = this.options.secret ? [basename(log)] : [currentKeyFile(this.options.kind), basename(log)];
    return watchFiles({
      dirs: this.options.secret ? [dirname(log)] : [this.options.dataDir, dirname(log)],
      names: new Set(names),
      pollMs: options.pollMs ?? 30_000,
      debounceMs: options.debounceMs ?? 100,
      sighup: options.sighup !== false,
      onTrigger: () => {
        // reload() already emitted a failure to the listeners; without one, emit() throws it as before.
        this.reload().catch((error: Error) => {
          if (this.listenerCount('error') === 0) this.emit('error', error);
        });
      },
      onWatchError: (_dir, error) => this.emit('error', error),
    });
  }
}

const logOf = (options: KeyRingOptions) => options.tlogPath ?? tlogPath(options.dataDir);

async function readState(options: KeyRingOptions, mode: 'open' | 'reload'): Promise<State> {
  const { dataDir, kind, secret } = options;
  const log = logOf(options);
  const pattern = `${kind}-key.`;
  if (!secret) {
    const names = await readdir(dataDir).catch(() => [] as string[]);
    if (names.some((name) => name.startsWith(pattern) && name.endsWith('.pending.pem')))
      await withDataDirLock(dataDir, () => recoverPendingRotation(dataDir, kind, log));
  }
  const current = secret
    ? secret.key
    : mode === 'open'
      ? await loadOrCreateKey(dataDir, kind)
      : await readCurrentKey(dataDir, kind);
  const entries = (await rotationEntriesOf(log)).filter((entry) => entry.event.kind === kind);
  const events = entries.map((entry) => entry.event);
  const standing = standingOf(
    events,
    current.keyId,
    entries.map((entry) => entry.index),
  );
  // A running node keeps its secret until the operator restarts it; only a start is refused.
  if (secret && mode === 'open')
    refuseStaleSecret(kind, secret.name, standing, (options.clock ?? systemClock)());
  return { current, events: chainTo(events, current.keyId), standing };
}

/**
 * A secret that the log says was replaced: refused at start, naming the key to install. A rotation still
 * in its dual-trust window is pending (the old key is valid everywhere until then, so an unplanned restart
 * before the secret is updated does not take the node down; it is warned about at start).
 */
function refuseStaleSecret(kind: KeyKind, name: string, standing: KeyStanding, now: Date): void {
  const key = (id: string) => `${kind} key ${id}`;
  if (standing.state === 'pending' && inWindow(standing.event, now)) return;
  if (standing.state === 'pending' || standing.state === 'retired')
    throw new NodeKeyError(
      'NODE_KEY_RETIRED',
      `${name} holds the ${key(standing.event.old_key_id)}, which \`tessera identity rotate-key\` replaced by ${standing.event.new_key_id} at ${standing.event.rotated_at} (transparency log index ${standing.index}; trusted until ${standing.event.dual_trust_until})` +
        (standing.state === 'pending'
          ? `: put the seed that rotation printed (key ${standing.event.new_key_id}) in ${name} and restart`
          : `: ${name} must hold the current ${kind} key, not an older one`),
    );
  if (standing.state === 'superseded')
    throw new NodeKeyError(
      'NODE_KEY_RETIRED',
      `${name} holds the ${key(standing.event.new_key_id)} of the rotation at transparency log index ${standing.index}, which a later rotation replaced by ${standing.by.new_key_id}: put that rotation's seed in ${name}`,
    );
}

/** The current key file as it is now; never creates one (see the header). */
async function readCurrentKey(dataDir: string, kind: KeyKind): Promise<NodeKey> {
  const path = join(dataDir, currentKeyFile(kind));
  const key = await readKey(path);
  if (!key)
    throw new RotationError(
      'key_missing',
      `the ${kind} key file ${path} is gone: the running node keeps its current key; restore the file from a backup`,
    );
  return { ...key, source: 'data-dir' };
}

/** The rotation events of all rings still in their window: the manifest's `rotation_events`. */
export function manifestRotationEvents(rings: KeyRing[], now: Date): SignedRotationEvent[] {
  return rings.flatMap((ring) => ring.rotationEvents(now));
}
