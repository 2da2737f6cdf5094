// Hybrid logical clock (Kulkarni et al.): physical milliseconds plus a counter, so the order of writes
// survives clocks that step backwards and merges causally with clocks of peers. On the wire it is a
// fixed-width string `WWWWWWWWWWWWWWW-CCCCCC` (15-digit wall ms, 6-digit counter), so comparing two
// strings compares the clocks: stores and peers can order by the text without parsing it.
import { type ErrorCode, NodeError } from '../../errors.ts';

export interface Hlc {
  wallMs: number;
  counter: number;
}

export type HlcErrorCode = Extract<ErrorCode, 'hlc_malformed' | 'hlc_out_of_range' | 'hlc_skew'>;

export class HlcError extends NodeError {
  override readonly name = 'HlcError';
  constructor(
    override readonly code: HlcErrorCode,
    message: string,
  ) {
    super(code, message);
  }
}

const WALL_DIGITS = 15;
const COUNTER_DIGITS = 6;
export const MAX_WALL_MS = 10 ** WALL_DIGITS - 1;
export const MAX_COUNTER = 10 ** COUNTER_DIGITS - 1;
const WIRE = /^(\d{15})-(\d{6})$/;

export function formatHlc(hlc: Hlc): string {
  const { wallMs, counter } = hlc;
  if (!Number.isSafeInteger(wallMs) || wallMs < 0 || wallMs > MAX_WALL_MS)
    throw new HlcError('hlc_out_of_range', `HLC wall time ${wallMs} is not an integer in 0..${MAX_WALL_MS}`);
  if (!Number.isSafeInteger(counter) || counter < 0 || counter > MAX_COUNTER)
    throw new HlcError('hlc_out_of_range', `HLC counter ${counter} is not an integer in 0..${MAX_COUNTER}`);
  return `${String(wallMs).padStart(WALL_DIGITS, '0')}-${String(counter).padStart(COUNTER_DIGITS, '0')}`;
}

export function parseHlc(text: string): Hlc {
  const match = typeof text === 'string' ? WIRE.exec(text) : null;
  if (!match)
    throw new HlcError(
      'hlc_malformed',
      `HLC must be 15 digits, '-', 6 digits (e.g. 001763900000000-000003); got ${JSON.stringify(String(text).slice(0, 40))}`,
    );
  return { wallMs: Number(match[1]), counter: Number(match[2]) };
}

export function isHlc(text: unknown): text is string {
  return typeof text === 'string' && WIRE.test(text);
}

/** Negative, zero or positive like a sort comparator; equals string comparison of the wire forms. */
export function compareHlc(a: Hlc, b: Hlc): number {
  return a.wallMs - b.wallMs || a.counter - b.counter;
}

export interface HybridClockOptions {
  /** Refuse (hlc_skew) a remote clock more than this far ahead of our wall clock; default: no bound. */
  maxForwardSkewMs?: number;
  /** Last HLC issued before a restart: the clock never issues one at or below it. */
  initial?: string;
}

export class HybridClock {
  #wallMs = 0;
  #counter = 0;

  constructor(
    private readonly wall: () => number = Date.now,
    private readonly options: HybridClockOptions = {},
  ) {
    if (options.initial !== undefined) {
      const { wallMs, counter } = parseHlc(options.initial);
      this.#wallMs = wallMs;
      this.#counter = counter;
    }
  }

  /** A new timestamp for a local event: greater than every timestamp issued or observed before. */
  now(): string {
    const physical = this.#physical();
    if (physical > this.#wallMs) this.#set(physical, 0);
    else this.#set(this.#wallMs, this.#counter + 1);
    return this.current();
  }

  /** Merges a timestamp received from a peer; returns the new local timestamp (greater than both). */
  observe(remote: string): string {
    const theirs = parseHlc(remote);
    const physical = this.#physical();
    const bound = this.options.maxForwardSkewMs;
    if (bound !== undefined && theirs.wallMs > physical + bound)
      throw new HlcError(
        'hlc_skew',
        `remote HLC ${remote} is ${theirs.wallMs - physical} ms ahead of this clock (limit ${bound} ms)`,
      );
    const wallMs = Math.max(this.#wallMs, theirs.wallMs, physical);
    let counter = 0;
    if (wallMs === this.#wallMs && wallMs === theirs.wallMs)
      counter = Math.max(this.#counter, theirs.counter) + 1;
    else if (wallMs === this.#wallMs) counter = this.#counter + 1;
    else if (wallMs === theirs.wallMs) counter = theirs.counter + 1;
    this.#set(wallMs, counter);
    return this.current();
  }

  /**
   * Never issue a timestamp at or below `floor` again (one issued elsewhere: another replica's write read
   * back from the shared store). Unlike observe(), nothing is issued and a floor below the clock is a no-op.
   */
  raiseTo(floor: string): void {
    const theirs = parseHlc(floor);
    if (compareHlc(theirs, { wallMs: this.#wallMs, counter: this.#counter }) > 0)
      this.#set(theirs.wallMs, theirs.counter);
  }

  /** How many ms `remote`'s wall time is ahead of our wall clock now (negative when behind). */
  aheadBy(remote: string): number {
    return parseHlc(remote).wallMs - this.#physical();
  }

  /** The last timestamp issued or merged (not a new one). */
  current(): string {
    return formatHlc({ wallMs: this.#wallMs, counter: this.#counter });
  }

  #physical(): number {
    const ms = Math.floor(this.wall());
    if (!Number.isSafeInteger(ms) || ms < 0 || ms > MAX_WALL_MS)
      throw new HlcError('hlc_out_of_range', `wall clock returned ${ms}, not a time in 0..${MAX_WALL_MS} ms`);
    return ms;
  }

  // A counter overflow (a million events within one millisecond) borrows the next millisecond, which keeps
  // the width fixed and the order strict.
  #set(wallMs: number, counter: number): void {
    if (counter > MAX_COUNTER) {
      wallMs += 1;
      counter = 0;
    }
    if (wallMs > MAX_WALL_MS) throw new HlcError('hlc_out_of_range', 'HLC wall time overflowed 15 digits');
    this.#wallMs = wallMs;
    this.#counter = counter;
  }
}
