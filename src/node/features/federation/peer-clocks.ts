// How far each peer's clock is from ours, estimated from what its authenticated answers say the time is:
// the HTTP `Date` of its replies to our calls (a time it stamped while we waited), and the `iat` of its
// verified peer tokens (a time it stamped before the request reached us). Both have whole seconds, so an
// estimate is a midpoint with an uncertainty: for a Date, half the round trip plus half a second; for an
// iat, the time on the way is unknown, so a token counts only while no Date reading is recent. A peer
// whose clock runs ahead explains facts refused for `clock_skew` and certificates "not yet valid"; one
// that runs behind, expired tokens. Positive skew = the peer's clock is ahead of ours.

export type ClockSource = 'http_date' | 'token_iat';

export interface ClockReading {
  /** The peer's clock minus ours, in milliseconds (positive: the peer is ahead). */
  skewMs: number;
  /** The estimate is within ± this many milliseconds (for a token: at least; the delivery time adds). */
  uncertaintyMs: number;
  source: ClockSource;
  /** When it was taken (our clock, ms). */
  atMs: number;
}

export interface PeerClocksOptions {
  /** A reading was taken for this peer (the node sets its skew gauge). */
  onReading?(peer: string, reading: ClockReading): void;
  /** Peers remembered at most (oldest reading dropped first); default 1000. */
  maxPeers?: number;
}

/** How long a Date reading outranks token readings. */
const DATE_PREFERRED_MS = 10 * 60_000;
/** A Date header older than this (or unparsable) says nothing about now: a proxy cache, a broken server. */
const MAX_SANE_SKEW_MS = 366 * 86_400_000;

export class PeerClocks {
  readonly #readings = new Map<string, { http_date?: ClockReading; token_iat?: ClockReading }>();
  readonly #maxPeers: number;

  constructor(private readonly options: PeerClocksOptions = {}) {
    this.#maxPeers = options.maxPeers ?? 1000;
  }

  /** The `Date` of a peer's answer to a call we sent at `sentMs` and got the headers of at `receivedMs`. */
  fromHttpDate(peer: string, date: string | undefined, sentMs: number, receivedMs: number): void {
    // Only the IMF-fixdate form RFC 9110 requires a server to send ("Sun, 06 Nov 1994 08:49:37 GMT").
    if (!date || !/^[A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d GMT$/.test(date)) return;
    const stamped = Date.parse(date);
    if (!Number.isFinite(stamped) || receivedMs < sentMs) return;
    // The peer stamped some instant in [stamped, stamped + 1 s) while we were in [sent, received].
    this.#take(peer, {
      skewMs: stamped + 500 - (sentMs + receivedMs) / 2,
      uncertaintyMs: (receivedMs - sentMs) / 2 + 500,
      source: 'http_date',
      atMs: receivedMs,
    });
  }

  /** The `iat` (seconds) of a verified token from the peer that arrived at `receivedMs`. */
  fromTokenIat(peer: string, iatSeconds: number, receivedMs: number): void {
    if (!Number.isSafeInteger(iatSeconds)) return;
    this.#take(peer, {
      skewMs: iatSeconds * 1000 + 500 - receivedMs,
      uncertaintyMs: 500,
      source: 'token_iat',
      atMs: receivedMs,
    });
  }

  /** The best reading of the peer's clock: a recent Date one, else the latest of either. */
  get(peer: string): ClockReading | undefined {
    const held = this.#readings.get(peer);
    if (!held) return undefined;
    const { http_date: date, token_iat: token } = held;
    if (date && (!token || token.atMs - date.atMs < DATE_PREFERRED_MS)) return date;
    return token ?? date;
  }

  forget(peer: string): void {
    this.#readings.delete(peer);
  }

  #take(peer: string, reading: ClockReading): void {
    if (Math.abs(reading.skewMs) > MAX_SANE_SKEW_MS) return;
    const held = this.#readings.get(peer) ?? {};
    this.#readings.delete(peer);
    this.#readings.set(peer, { ...held, [reading.source]: reading });
    if (this.#readings.size > this.#maxPeers)
      this.#readings.delete(this.#readings.keys().next().value as string);
    const best = this.get(peer);
    if (best) this.options.onReading?.(peer, best);
  }
}
