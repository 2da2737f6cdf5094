// A token bucket that holds `capacity` requests (default one hour's worth) and refills continuously at
// `perHour`. Kept in integer "token-milliseconds" (one token = 3 600 000 units, refill = `perHour` units
// per ms), so refill and waiting times are exact: no float drift that would deny a request at the exact
// moment it was promised.
export const UNITS_PER_TOKEN = 3_600_000;

export class TokenBucket {
  #units: number;
  #atMs: number;

  constructor(
    readonly perHour: number,
    nowMs: number,
    /** Most tokens held at once (the burst); default `perHour`, never more. */
    readonly capacity: number = perHour,
  ) {
    this.capacity = Math.min(capacity, perHour);
    this.#units = this.capacity * UNITS_PER_TOKEN;
    this.#atMs = nowMs;
  }

  get capacityUnits(): number {
    return this.capacity * UNITS_PER_TOKEN;
  }

  #refill(nowMs: number): void {
    // A clock that steps back refills nothing (and does not drain either).
    if (nowMs > this.#atMs) {
      this.#units = Math.min(this.capacityUnits, this.#units + (nowMs - this.#atMs) * this.perHour);
      this.#atMs = nowMs;
    }
  }

  /** Takes one token; otherwise how many milliseconds until one is there (≥ 1). */
  take(nowMs: number): { ok: true; remaining: number } | { ok: false; waitMs: number } {
    this.#refill(nowMs);
    if (this.#units >= UNITS_PER_TOKEN) {
      this.#units -= UNITS_PER_TOKEN;
      return { ok: true, remaining: Math.floor(this.#units / UNITS_PER_TOKEN) };
    }
    return { ok: false, waitMs: Math.ceil((UNITS_PER_TOKEN - this.#units) / this.perHour) };
  }

  /** 0 when a token is there now (nothing taken), else the milliseconds until one is. */
  waitMs(nowMs: number): number {
    this.#refill(nowMs);
    return this.#units >= UNITS_PER_TOKEN ? 0 : Math.ceil((UNITS_PER_TOKEN - this.#units) / this.perHour);
  }

  /** Whole tokens there now. */
  tokens(nowMs: number): number {
    this.#refill(nowMs);
    return Math.floor(this.#units / UNITS_PER_TOKEN);
  }

  /** Full again: indistinguishable from a new bucket, so it can be dropped. */
  isFull(nowMs: number): boolean {
    this.#refill(nowMs);
    return this.#units >= this.capacityUnits;
  }
}
