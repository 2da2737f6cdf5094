// The audit log's hash chain. Each entry's `hash` is the hex SHA-256 of the JCS canonical JSON of
// {seq, ts, event_type, principal, detail, prev_hash}, and `prev_hash` is the previous entry's `hash`
// (64 zeros for seq 1). Editing any field of an entry breaks its hash; deleting or reordering entries
// breaks the seq sequence or the prev_hash links.
//
// What a chain alone cannot show: entries cut off its END. A truncated log is a shorter, internally valid
// chain. An anchor — a (seq, hash) pair the operator recorded elsewhere earlier, e.g. the last line of a
// previous `tessera audit verify` or of an export in WORM storage — closes that gap: the chain must
// reach that seq with that hash. Likewise a chain rewritten from some entry on (every later hash
// recomputed) only shows against an anchor taken before the rewrite.
import { hash } from 'node:crypto';
import type { AuditEntry } from '../../../store/ports/audit.ts';
import { canonicalJson } from '../identity/canonical-json.ts';

export const GENESIS_HASH = '0'.repeat(64);

const HEX_HASH = /^[0-9a-f]{64}$/;

/** A position in the chain: the entry with this seq has this hash (seq 0 = before the first entry). */
export interface ChainPoint {
  seq: number;
  hash: string;
}

export const GENESIS: ChainPoint = { seq: 0, hash: GENESIS_HASH };

export type AuditFields = Omit<AuditEntry, 'hash'>;

/** The hash an entry must carry: hex SHA-256 over the JCS canonical JSON of every field except `hash`. */
export function auditHash(fields: AuditFields): string {
  const { seq, ts, event_type, principal, detail, prev_hash } = fields;
  const text = canonicalJson({ seq, ts, event_type, principal, detail, prev_hash });
  return hash('sha256', text, 'hex');
}

/** The entry that follows `last` (null = the log is empty). */
export function buildAuditEntry(
  last: ChainPoint | null,
  fields: Pick<AuditEntry, 'ts' | 'event_type' | 'principal' | 'detail'>,
): AuditEntry {
  const prev = last ?? GENESIS;
  const entry: AuditFields = {
    seq: prev.seq + 1,
    ts: fields.ts,
    event_type: fields.event_type,
    principal: fields.principal,
    detail: fields.detail,
    prev_hash: prev.hash,
  };
  return { ...entry, hash: auditHash(entry) };
}

export type ChainFailureReason =
  /** The entry's content does not match its hash: it was edited (or its seq changed). */
  | 'hash_mismatch'
  /** The entry does not link to the one before it: an entry before it was removed, replaced or moved. */
  | 'prev_hash_mismatch'
  /** A seq is missing: an entry was deleted (or moved further down). */
  | 'seq_gap'
  /** A seq is not greater than the one before it: entries were reordered or duplicated. */
  | 'seq_order'
  /** Not an audit entry at all (missing or mistyped field, not JSON). */
  | 'malformed'
  /** The chain ends before the anchor's seq (with an anchor only). */
  | 'truncated'
  /** The entry at the anchor's seq does not have the anchor's hash (with an anchor only). */
  | 'anchor_mismatch';

export type VerifyResult =
  | {
      ok: true;
      /** Entries checked. */
      count: number;
      /** Where the chain started from (genesis, or the point a mid-chain export continues). */
      start: ChainPoint;
      /** The last entry's seq and hash (the start when there were no entries): record it as an anchor. */
      lastSeq: number;
      lastHash: string;
    }
  | {
      ok: false;
      /** Entries that verified before the first bad one. */
      count: number;
      firstBadSeq: number;
      reason: ChainFailureReason;
      /** One human sentence. */
      detail: string;
    };

export interface VerifyOptions {
  /**
   * Where the entries continue from. Default genesis: the first entry must be seq 1 with prev_hash of 64
   * zeros. 'first-entry': for a file exported from the middle of the log, the first entry's own seq and
   * prev_hash are taken on trust as the starting point (a first entry of seq 1 must still link to genesis).
   */
  start?: ChainPoint | 'first-entry';
  /** A (seq, hash) known from elsewhere that the chain must contain: detects a truncated tail. */
  anchor?: ChainPoint;
}

/** A line of an input that could not even be parsed; verification reports it as `malformed`. */
export class UnparsableEntry {
  constructor(readonly description: string) {}
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'string' ? 'a string' : `a ${typeof value}`;
}

/** Why `value` is not a well-formed entry, or null. */
function malformation(value: unknown): string | null {
  if (value instanceof UnparsableEntry) return value.description;
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    return `entry is ${describe(value)}, not an object`;
  const e = value as Record<string, unknown>;
  if (typeof e.seq !== 'number' || !Number.isSafeInteger(e.seq) || e.seq < 1)
    return 'seq must be a positive integer';
  if (typeof e.ts !== 'string' || e.ts.length === 0) return 'ts must be a non-empty string';
  if (typeof e.event_type !== 'string' || e.event_type.length === 0)
    return 'event_type must be a non-empty string';
  if (e.principal !== null && typeof e.principal !== 'string') return 'principal must be a string or null';
  if (typeof e.detail !== 'object' || e.detail === null || Array.isArray(e.detail))
    return 'detail must be an object';
  if (typeof e.prev_hash !== 'string' || !HEX_HASH.test(e.prev_hash))
    return 'prev_hash must be 64 lowercase hex digits';
  if (typeof e.hash !== 'string' || !HEX_HASH.test(e.hash)) return 'hash must be 64 lowercase hex digits';
  return null;
}

const seqOf = (value: unknown): number | null => {
  if (value instanceof UnparsableEntry) return null;
  const seq = (value as { seq?: unknown } | null)?.seq;
  return typeof seq === 'number' && Number.isSafeInteger(seq) && seq >= 1 ? seq : null;
};

type Failure = Extract<VerifyResult, { ok: false }>;

/**
 * Checks entries one at a time, in the order given (seq order), and keeps the first one that breaks the
 * chain. Input is untrusted (`unknown`): rows of a database someone may have edited, or lines of a file.
 * Push-based so an exporter can verify the very entries it writes in the same pass.
 */
export class ChainVerifier {
  readonly #anchor: ChainPoint | undefined;
  #start: ChainPoint | null;
  #prev: ChainPoint | null;
  #count = 0;
  #failure: Failure | null = null;

  constructor(options: VerifyOptions = {}) {
    this.#anchor = options.anchor;
    this.#start = options.start === 'first-entry' ? null : (options.start ?? GENESIS);
    this.#prev = this.#start;
  }

  /** The first failure so far, or null. */
  get failure(): Failure | null {
    return this.#failure;
  }

  /** Checks the next entry; false once the chain is broken (later entries are then ignored). */
  push(value: unknown): boolean {
    if (this.#failure) return false;
    this.#failure = this.#check(value);
    return this.#failure === null;
  }

  /** The verdict over everything pushed. */
  finish(): VerifyResult {
    if (this.#failure) return this.#failure;
    const start = this.#start ?? GENESIS;
    const last = this.#prev ?? start;
    const anchor = this.#anchor;
    if (anchor) {
      if (anchor.seq > last.seq)
        return this.#fail(
          last.seq + 1,
          'truncated',
          `the log ends at seq ${last.seq} but the anchor names seq ${anchor.seq}: entries after seq ${last.seq} are missing`,
        );
      if (anchor.seq < start.seq)
        return this.#fail(
          start.seq + 1,
          'anchor_mismatch',
          `the anchor's seq ${anchor.seq} is before the first entry checked (seq ${start.seq + 1})`,
        );
      if (anchor.seq === start.seq && anchor.hash !== start.hash)
        return this.#fail(
          start.seq + 1,
          'anchor_mismatch',
          `seq ${start.seq + 1}: prev_hash differs from the anchor's hash for seq ${anchor.seq}`,
        );
    }
    return { ok: true, count: this.#count, start, lastSeq: last.seq, lastHash: last.hash };
  }

  #fail(firstBadSeq: number, reason: ChainFailureReason, detail: string): Failure {
    return { ok: false, count: this.#count, firstBadSeq, reason, detail };
  }

  #check(value: unknown): Failure | null {
    const claimedSeq = seqOf(value);
    if (this.#prev === null) {
      // 'first-entry': continue from what the first entry says precedes it (genesis for seq 1).
      const prevHash = (value as { prev_hash?: unknown } | null)?.prev_hash;
      this.#start =
        claimedSeq === null || claimedSeq === 1 || typeof prevHash !== 'string'
          ? GENESIS
          : { seq: claimedSeq - 1, hash: prevHash };
      this.#prev = this.#start;
    }
    const prev = this.#prev;
    const expectedSeq = prev.seq + 1;
    if (claimedSeq === null)
      return this.#fail(expectedSeq, 'malformed', `entry after seq ${prev.seq}: ${malformation(value)}`);
    if (claimedSeq <= prev.seq)
      return this.#fail(
        claimedSeq,
        'seq_order',
        `seq ${claimedSeq} comes after seq ${prev.seq}: entries are out of order or repeated`,
      );
    if (claimedSeq > expectedSeq)
      return this.#fail(
        expectedSeq,
        'seq_gap',
        claimedSeq === expectedSeq + 1
          ? `seq ${expectedSeq} is missing (seq ${claimedSeq} follows seq ${prev.seq}): an entry was deleted or moved`
          : `seq ${expectedSeq}–${claimedSeq - 1} are missing (seq ${claimedSeq} follows seq ${prev.seq}): entries were deleted or moved`,
      );
    const problem = malformation(value);
    if (problem) return this.#fail(claimedSeq, 'malformed', `seq ${claimedSeq}: ${problem}`);
    const entry = value as AuditEntry;
    let computed: string;
    try {
      computed = auditHash(entry);
    } catch {
      return this.#fail(claimedSeq, 'malformed', `seq ${claimedSeq}: detail is not representable as JSON`);
    }
    if (computed !== entry.hash)
      return this.#fail(
        claimedSeq,
        'hash_mismatch',
        `seq ${claimedSeq}: its content does not match its hash (the entry was altered)`,
      );
    if (entry.prev_hash !== prev.hash)
      return this.#fail(
        claimedSeq,
        'prev_hash_mismatch',
        `seq ${claimedSeq}: prev_hash does not match the hash of seq ${prev.seq} (an entry before it was removed, replaced or moved)`,
      );
    const anchor = this.#anchor;
    if (anchor && anchor.seq === claimedSeq && anchor.hash !== entry.hash)
      return this.#fail(
        claimedSeq,
        'anchor_mismatch',
        `seq ${claimedSeq}: hash ${entry.hash} differs from the anchor's ${anchor.hash} (the log was rewritten up to here)`,
      );
    this.#prev = { seq: claimedSeq, hash: entry.hash };
    this.#count++;
    return null;
  }
}

/** Verifies a whole sequence of entries (see ChainVerifier); stops reading at the first broken one. */
export async function verifyChain(
  entries: Iterable<unknown> | AsyncIterable<unknown>,
  options: VerifyOptions = {},
): Promise<VerifyResult> {
  const verifier = new ChainVerifier(options);
  for await (const value of entries) if (!verifier.push(value)) break;
  return verifier.finish();
}

/** Parses an anchor written as `SEQ:HASH` (e.g. `1200:3fa4…`), as `tessera audit verify` prints them. */
export function parseChainPoint(text: string): ChainPoint {
  const m = /^(0|[1-9]\d{0,15}):([0-9a-f]{64})$/.exec(text.trim());
  const seq = m ? Number(m[1]) : Number.NaN;
  if (!m || !Number.isSafeInteger(seq))
    throw new TypeError(
      `an anchor is SEQ:HASH, a seq and 64 lowercase hex digits (got "${text.slice(0, 100)}")`,
    );
  return { seq, hash: m[2]! };
}
