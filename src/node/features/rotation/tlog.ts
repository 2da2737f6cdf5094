// The local transparency log: `<dataDir>/tlog.jsonl` (or TESSERA_TL_LOCAL_PATH), one JSON entry per line, append-only and hash-chained.
// Entry {index, ts, kind, payload, prev_hash, hash}: `hash` is hex SHA-256 of the JCS canonical JSON of the
// other fields, `prev_hash` the previous entry's hash (64 zeros for index 0). Editing a line breaks its
// hash, deleting or moving one breaks the index sequence or a link. Rotation payloads are signed events and
// are verified too. A log cut off at its end is still a valid chain: compare with an anchor (INDEX:HASH)
// recorded earlier, as `tessera tlog verify` prints it.
import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { access, type FileHandle, mkdir, open, readFile, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { canonicalJson } from '../identity/canonical-json.ts';
import { RotationError } from './errors.ts';
import { withDataDirLock } from './lock.ts';
import { type SignedRotationEvent, verifyRotationEvent } from './rotation-event.ts';

export const TLOG_FILE = 'tlog.jsonl';
export const TLOG_GENESIS = '0'.repeat(64);
export const TLOG_KINDS = ['manifest', 'rotation'] as const;
export type TlogKind = (typeof TLOG_KINDS)[number];

export interface TlogEntry {
  index: number;
  ts: string;
  kind: TlogKind;
  payload: Record<string, unknown>;
  prev_hash: string;
  hash: string;
}

export function tlogPath(dataDir: string): string {
  return join(dataDir, TLOG_FILE);
}

export function tlogHash(fields: Omit<TlogEntry, 'hash'>): string {
  const { index, ts, kind, payload, prev_hash } = fields;
  return createHash('sha256')
    .update(canonicalJson({ index, ts, kind, payload, prev_hash }), 'utf8')
    .digest('hex');
}

/** The lines of the log, split but not parsed; [] when the file does not exist. */
async function readLines(path: string): Promise<{ lines: string[]; torn: boolean }> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { lines: [], torn: false };
    const code = (error as NodeJS.ErrnoException).code ?? 'error';
    throw new RotationError('tlog_corrupt', `cannot read ${path} (${code})`);
  }
  if (text === '') return { lines: [], torn: false };
  const torn = !text.endsWith('\n');
  const lines = text.split('\n');
  if (!torn) lines.pop();
  return { lines, torn };
}

/**
 * Entries of a log the caller treats as its own state (rotation events for the key ring). Lines that do not
 * parse are skipped here; `verifyTlog` is what reports them.
 */
export async function readTlog(path: string): Promise<TlogEntry[]> {
  const { lines } = await readLines(path);
  const entries: TlogEntry[] = [];
  for (const line of lines) {
    try {
      const value = JSON.parse(line) as TlogEntry;
      if (malformation(value) === null) entries.push(value);
    } catch {
      // reported by verifyTlog
    }
  }
  return entries;
}

/** Rotation events of the log that verify on their own, oldest first. */
export async function rotationEventsOf(path: string): Promise<SignedRotationEvent[]> {
  return (await rotationEntriesOf(path)).map((entry) => entry.event);
}

/** The same, with each event's log index (for messages that point into the log). */
export async function rotationEntriesOf(
  path: string,
): Promise<{ index: number; event: SignedRotationEvent }[]> {
  const found: { index: number; event: SignedRotationEvent }[] = [];
  for (const entry of await readTlog(path)) {
    if (entry.kind !== 'rotation') continue;
    try {
      found.push({ index: entry.index, event: verifyRotationEvent(entry.payload) });
    } catch {
      // reported by verifyTlog
    }
  }
  return found;
}

/**
 * Appends one entry. Takes the data dir lock unless the caller holds it (`locked: true`). Refuses to extend
 * a log whose last line is torn or does not match its hash: run `tessera tlog verify` and repair first.
 */
export async function appendTlog(
  dataDir: string,
  entry: NewTlogEntry,
  options: {
    locked?: boolean /** The log file (TESSERA_TL_LOCAL_PATH); default in the data dir. */;
    path?: string;
  } = {},
): Promise<TlogEntry> {
  const run = async () => {
    const append = await prepareAppend(options.path ?? tlogPath(dataDir), [entry]);
    await append.commit();
    return append.entries[0] as TlogEntry;
  };
  return options.locked ? run() : withDataDirLock(dataDir, run);
}

export interface NewTlogEntry {
  kind: TlogKind;
  payload: Record<string, unknown>;
  ts: Date;
}

/** Entries numbered and hashed, and the open log file they go to: nothing is written before commit(). */
export interface PreparedAppend {
  entries: TlogEntry[];
  /** Writes every entry in one write and syncs; closes the file. */
  commit(): Promise<void>;
  /** Closes the file without writing. */
  abandon(): Promise<void>;
}

/**
 * First half of an append, under the caller's data dir lock: checks the tail (as appendTlog), numbers the
 * entries and opens the file for appending, so that commit() can only fail on the write itself (disk full,
 * I/O error). A caller that must show something before the log says it happened (a new key's seed) does
 * so between the two halves.
 */
export async function prepareAppend(path: string, entries: readonly NewTlogEntry[]): Promise<PreparedAppend> {
  let prev = await lastEntryOf(path);
  const written = entries.map((entry) => {
    const fields = {
      index: prev.index + 1,
      ts: entry.ts.toISOString(),
      kind: entry.kind,
      payload: entry.payload,
      prev_hash: prev.hash,
    };
    const full: TlogEntry = { ...fields, hash: tlogHash(fields) };
    prev = full;
    return full;
  });
  const fail = (error: unknown) => {
    const code = (error as NodeJS.ErrnoException).code ?? 'error';
    return new RotationError('write_failed', `cannot append to ${path} (${code})`);
  };
  let handle: FileHandle;
  try {
    // TESSERA_TL_LOCAL_PATH may name a directory of its own (e.g. an append-only mount) not made yet.
    await mkdir(dirname(path), { recursive: true, mode: 0o700 });
    handle = await open(path, 'a', 0o600);
  } catch (error) {
    throw fail(error);
  }
  return {
    entries: written,
    async commit() {
      try {
        // One write of whole lines: a crash leaves at most a torn last line, which append then refuses.
        await handle.write(written.map((entry) => `${JSON.stringify(entry)}\n`).join(''));
        await handle.sync();
      } catch (error) {
        throw fail(error);
      } finally {
        await handle.close();
      }
    },
    abandon: () => handle.close(),
  };
}

/**
 * What a dry run checks before promising anything: the log's tail verifies (else tlog_corrupt) and the
 * file, or the directory it would be created in, is writable (else write_failed). Writes nothing.
 * Returns the index the next entry would get.
 */
export async function checkAppendable(path: string): Promise<number> {
  const exists = await stat(path).then(
    (info) => info,
    () => null,
  );
  let target = path;
  if (!exists) {
    // The nearest existing ancestor is where mkdir/open would create it.
    target = dirname(path);
    while (!(await stat(target).catch(() => null))) {
      if (dirname(target) === target) break;
      target = dirname(target);
    }
  }
  const info = await stat(target).catch((error: NodeJS.ErrnoException) => error);
  const wanted = exists ? 'file' : 'directory';
  const problem =
    info instanceof Error
      ? (info.code ?? 'error')
      : (exists ? !info.isFile() : !info.isDirectory())
        ? `not a ${wanted}`
        : await access(target, constants.W_OK).then(
            () => null,
            (error: NodeJS.ErrnoException) => error.code ?? 'error',
          );
  if (problem)
    throw new RotationError(
      'write_failed',
      `the transparency log ${path} cannot be written (${target}: ${problem}); check TESSERA_TL_LOCAL_PATH and its directory`,
    );
  return (await lastEntryOf(path)).index + 1;
}

/** The last entry's index and hash (-1 and the genesis hash for an empty log); tlog_corrupt on a bad tail. */
async function lastEntryOf(path: string): Promise<{ index: number; hash: string }> {
  const { lines, torn } = await readLines(path);
  if (torn) throw corrupt(path, 'its last line is incomplete');
  const lastLine = lines.at(-1);
  if (lastLine === undefined) return { index: -1, hash: TLOG_GENESIS };
  let last: TlogEntry;
  try {
    last = JSON.parse(lastLine) as TlogEntry;
  } catch {
    throw corrupt(path, 'its last line is not JSON');
  }
  if (malformation(last) !== null || tlogHash(last) !== last.hash)
    throw corrupt(path, `its last entry does not match its hash`);
  return { index: last.index, hash: last.hash };
}

function corrupt(path: string, why: string): RotationError {
  return new RotationError(
    'tlog_corrupt',
    `${path}: ${why}; run \`tessera tlog verify\` and restore the log before appending`,
  );
}

export type TlogFailureReason =
  | 'malformed'
  | 'index_gap'
  | 'index_order'
  | 'hash_mismatch'
  | 'prev_hash_mismatch'
  | 'rotation_invalid'
  | 'rotation_discontinuous'
  | 'truncated'
  | 'anchor_mismatch';

export type TlogVerifyResult =
  | { ok: true; count: number; lastIndex: number; lastHash: string }
  | { ok: false; count: number; firstBadIndex: number; reason: TlogFailureReason; detail: string };

export interface TlogAnchor {
  index: number;
  hash: string;
}

/** Parses `INDEX:HASH`, as `tessera tlog verify` prints the last entry. */
export function parseTlogAnchor(text: string): TlogAnchor {
  const m = /^(0|[1-9]\d{0,15}):([0-9a-f]{64})$/.exec(text.trim());
  if (!m) throw new TypeError(`an anchor is INDEX:HASH (got "${text.slice(0, 100)}")`);
  return { index: Number(m[1]), hash: m[2]! };
}

/** Checks every line in order and reports the first broken index. */
export async function verifyTlog(
  path: string,
  options: { anchor?: TlogAnchor } = {},
): Promise<TlogVerifyResult> {
  const { lines, torn } = await readLines(path);
  let prev = { index: -1, hash: TLOG_GENESIS };
  let count = 0;
  // Per kind, the last rotation: the next one hands over from its new key, or (a rotation whose new key
  // was never installed, replaced by `rotate-key --replace-pending`) from the same old key.
  const lastRotation = new Map<string, SignedRotationEvent>();
  const fail = (firstBadIndex: number, reason: TlogFailureReason, detail: string): TlogVerifyResult => ({
    ok: false,
    count,
    firstBadIndex,
    reason,
    detail,
  });
  for (let line = 0; line < lines.length; line++) {
    const expected = prev.index + 1;
    const text = lines[line]!;
    if (torn && line === lines.length - 1)
      return fail(
        expected,
        'malformed',
        `line ${line + 1}: incomplete (no newline): a write was interrupted`,
      );
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      return fail(expected, 'malformed', `line ${line + 1}: not JSON`);
    }
    const problem = malformation(value);
    if (problem) return fail(expected, 'malformed', `line ${line + 1}: ${problem}`);
    const entry = value as TlogEntry;
    if (entry.index < expected)
      return fail(
        entry.index,
        'index_order',
        `index ${entry.index} follows index ${prev.index}: lines were reordered or repeated`,
      );
    if (entry.index > expected)
      return fail(
        expected,
        'index_gap',
        `index ${expected} is missing (index ${entry.index} follows ${prev.index})`,
      );
    if (tlogHash(entry) !== entry.hash)
      return fail(
        entry.index,
        'hash_mismatch',
        `index ${entry.index}: its content does not match its hash (the line was edited)`,
      );
    if (entry.prev_hash !== prev.hash)
      return fail(
        entry.index,
        'prev_hash_mismatch',
        `index ${entry.index}: prev_hash is not the hash of index ${prev.index} (a line before it was replaced)`,
      );
    if (entry.kind === 'rotation') {
      let event: SignedRotationEvent;
      try {
        event = verifyRotationEvent(entry.payload);
      } catch (error) {
        return fail(entry.index, 'rotation_invalid', `index ${entry.index}: ${(error as Error).message}`);
      }
      const previous = lastRotation.get(event.kind);
      if (
        previous !== undefined &&
        previous.new_key_id !== event.old_key_id &&
        previous.old_key_id !== event.old_key_id
      )
        return fail(
          entry.index,
          'rotation_discontinuous',
          `index ${entry.index}: ${event.kind} key rotation from ${event.old_key_id}, but the previous rotation made ${previous.new_key_id} current`,
        );
      lastRotation.set(event.kind, event);
    }
    const anchor = options.anchor;
    if (anchor && anchor.index === entry.index && anchor.hash !== entry.hash)
      return fail(
        entry.index,
        'anchor_mismatch',
        `index ${entry.index}: hash differs from the anchor (the log was rewritten up to here)`,
      );
    prev = { index: entry.index, hash: entry.hash };
    count++;
  }
  if (options.anchor && options.anchor.index > prev.index)
    return fail(
      prev.index + 1,
      'truncated',
      `the log ends at index ${prev.index} but the anchor names index ${options.anchor.index}: entries were cut off`,
    );
  return { ok: true, count, lastIndex: prev.index, lastHash: prev.hash };
}

function malformation(value: unknown): string | null {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'not a JSON object';
  const e = value as Record<string, unknown>;
  if (typeof e.index !== 'number' || !Number.isSafeInteger(e.index) || e.index < 0)
    return 'index must be a non-negative integer';
  if (typeof e.ts !== 'string' || Number.isNaN(Date.parse(e.ts))) return 'ts must be a timestamp';
  if (!(TLOG_KINDS as readonly unknown[]).includes(e.kind)) return 'kind must be manifest or rotation';
  if (typeof e.payload !== 'object' || e.payload === null || Array.isArray(e.payload))
    return 'payload must be an object';
  for (const field of ['prev_hash', 'hash'] as const)
    if (typeof e[field] !== 'string' || !/^[0-9a-f]{64}$/.test(e[field] as string))
      return `${field} must be 64 lower-case hex digits`;
  return null;
}

/** Records a manifest the node now serves (after a key rotation, or when it starts with new keys). */
export function logManifest(
  dataDir: string,
  manifest: Record<string, unknown>,
  now: Date,
  path: string = tlogPath(dataDir),
): Promise<TlogEntry> {
  return appendTlog(dataDir, { kind: 'manifest', payload: manifest, ts: now }, { path });
}
