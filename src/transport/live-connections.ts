// Open connections whose peer was trusted when they opened, kept under watch: each is checked again at the
// moment its trust next lapses by itself (the peer's notAfter; a CRL's nextUpdate when stale CRLs fail),
// and every connection is re-checked at once when trust changes (a credential reload brings a new CRL or
// CA bundle; a deny-list change calls reevaluate()). The adapter's `check` decides, and on a refusal
// records the reason and destroys the socket; connections still trusted are left untouched.
import type { TLSSocket } from 'node:tls';
import { type Clock, systemTimers, type Timers } from '../tls/clock.ts';
import type { CredentialFeed } from '../tls/follow.ts';
import { followCredentials } from '../tls/follow.ts';
import type { PeerIdentity } from '../tls/identity.ts';
import { nextTrustDeadline } from '../tls/revocation.ts';
import { rememberPresentedChain } from './peer-trust.ts';

/** What a tracked connection must offer: Node's sockets do. */
export interface ClosableConnection {
  readonly destroyed: boolean;
  /** Node's emitters call a listener with the emitter as `this`. */
  on(event: 'close', listener: (this: ClosableConnection) => void): unknown;
}

export interface LiveConnectionsOptions<S> {
  /** Re-checks one connection (`recheck`: trust changed or a deadline was reached); false when it was closed. */
  check(socket: S, identity: PeerIdentity): boolean;
  /** Re-evaluates everything after each reload of these credentials; deadlines also follow their CRLs. */
  credentials?: CredentialFeed | undefined;
  clock: Clock;
  timers?: Timers | undefined;
  /**
   * Read a TLS socket's presented chain when it is added (default true). Client sockets need it: on Node 20
   * a client socket's certificate can come back empty later (see identity.ts). A server socket keeps its
   * chain for its whole life, and reading it costs a large share of a handshake (getPeerCertificate(true)
   * builds every certificate as an object), so servers read it only when a re-check needs it.
   */
  readChainOnAdd?: boolean | undefined;
}

/** setTimeout's ceiling (about 24.8 days): a later deadline is reached in steps. */
const MAX_TIMER_MS = 2 ** 31 - 1;
/** A deadline reached whose check still passes (clock skew between the clock and the timers) is retried after this. */
const RETRY_MS = 1000;

/**
 * Open, trusted connections under watch: `add` each admitted one; every credential reload (and each call
 * of `reevaluate()`) re-runs `check` on all of them, and each is checked again at its next trust deadline.
 * One timer serves them all, set for the soonest deadline: a connection costs a map entry, not a timer
 * (setting and clearing a timer for every connection of a handshake-heavy listener showed in its profile).
 */
export class LiveConnections<S extends ClosableConnection> {
  /** Each open connection, its peer and the time (ms) at which it is next checked by itself. */
  readonly #entries = new Map<S, { identity: PeerIdentity; due: number }>();
  readonly #options: LiveConnectionsOptions<S>;
  readonly #timers: Timers;
  readonly #stop: (() => void) | undefined;
  #timer: unknown;
  /**
   * One listener for every connection's 'close', called with the connection as `this`: no closure per
   * connection ('close' comes once, so `on` needs no once-wrapper either).
   */
  readonly #closed: (this: ClosableConnection) => void;
  /** When the timer fires (ms); Infinity when none is set. */
  #timerAt = Number.POSITIVE_INFINITY;

  constructor(options: LiveConnectionsOptions<S>) {
    this.#options = options;
    this.#timers = options.timers ?? systemTimers;
    const live = this;
    this.#closed = function (this: ClosableConnection) {
      live.#remove(this as S);
    };
    this.#stop = options.credentials
      ? followCredentials(options.credentials, () => this.reevaluate())
      : undefined;
  }

  get size(): number {
    return this.#entries.size;
  }

  sockets(): S[] {
    return [...this.#entries.keys()];
  }

  add(socket: S, identity: PeerIdentity): void {
    if (socket.destroyed || this.#entries.has(socket)) return;
    // TLS sockets: the chain is read now, while it surely can be, for the re-checks to come.
    if (
      this.#options.readChainOnAdd !== false &&
      typeof (socket as unknown as Partial<TLSSocket>).getPeerCertificate === 'function'
    )
      rememberPresentedChain(socket as unknown as TLSSocket);
    const due = this.#deadline(identity);
    this.#entries.set(socket, { identity, due });
    socket.on('close', this.#closed);
    if (due < this.#timerAt) this.#arm(due);
  }

  /** Re-checks every open connection; returns how many were closed. */
  reevaluate(): number {
    let closed = 0;
    for (const [socket, entry] of [...this.#entries]) {
      if (this.#options.check(socket, entry.identity)) entry.due = this.#deadline(entry.identity);
      else {
        closed++;
        this.#remove(socket);
      }
    }
    this.#armSoonest();
    return closed;
  }

  /** Stops following the credentials and clears the timer (the connections themselves are the owner's). */
  close(): void {
    this.#stop?.();
    this.#entries.clear();
    this.#disarm();
  }

  /** When trust in this peer next lapses by itself: its notAfter, or its issuer's CRL nextUpdate. */
  #deadline(identity: PeerIdentity): number {
    const material = this.#options.credentials?.material;
    return (material ? nextTrustDeadline(identity, material) : identity.notAfter).getTime();
  }

  /** The timer fired: checks every connection whose deadline has come, then waits for the next one. */
  #sweep(): void {
    this.#timer = undefined;
    this.#timerAt = Number.POSITIVE_INFINITY;
    const now = this.#options.clock().getTime();
    for (const [socket, entry] of [...this.#entries]) {
      if (entry.due > now || !this.#entries.has(socket)) continue;
      if (!this.#options.check(socket, entry.identity)) {
        this.#remove(socket);
        continue;
      }
      // Still trusted: the clock lags the timer a little, or trust was renewed (a reload re-arms anyway).
      entry.due = Math.max(this.#deadline(entry.identity), now + RETRY_MS);
    }
    this.#armSoonest();
  }

  #armSoonest(): void {
    let soonest = Number.POSITIVE_INFINITY;
    for (const entry of this.#entries.values()) if (entry.due < soonest) soonest = entry.due;
    if (soonest === Number.POSITIVE_INFINITY) this.#disarm();
    else this.#arm(soonest);
  }

  /** Sets the one timer for `at` (a deadline past setTimeout's ceiling is reached in steps). */
  #arm(at: number): void {
    this.#disarm();
    const delay = Math.max(0, at - this.#options.clock().getTime());
    this.#timerAt = at;
    this.#timer = this.#timers.setTimeout(() => this.#sweep(), Math.min(delay, MAX_TIMER_MS));
  }

  #disarm(): void {
    if (this.#timer !== undefined) this.#timers.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerAt = Number.POSITIVE_INFINITY;
  }

  /** A closed connection leaves the map; the last one leaves no timer behind. */
  #remove(socket: S): void {
    if (!this.#entries.delete(socket)) return;
    if (this.#entries.size === 0) this.#disarm();
  }
}
