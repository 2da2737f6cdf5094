// Open connections whose peer was trusted when they opened, kept under watch: each gets a timer at the
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
  once(event: 'close', listener: () => void): unknown;
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
 * of `reevaluate()`) re-runs `check` on all of them, and each has a timer at its next trust deadline.
 */
export class LiveConnections<S extends ClosableConnection> {
  readonly #entries = new Map<S, { identity: PeerIdentity; timer: unknown }>();
  readonly #options: LiveConnectionsOptions<S>;
  readonly #timers: Timers;
  readonly #stop: (() => void) | undefined;

  constructor(options: LiveConnectionsOptions<S>) {
    this.#options = options;
    this.#timers = options.timers ?? systemTimers;
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
    this.#entries.set(socket, { identity, timer: undefined });
    socket.once('close', () => this.#remove(socket));
    this.#schedule(socket);
  }

  /** Re-checks every open connection; returns how many were closed. */
  reevaluate(): number {
    let closed = 0;
    for (const [socket, entry] of [...this.#entries]) {
      if (this.#options.check(socket, entry.identity)) this.#schedule(socket);
      else {
        closed++;
        this.#remove(socket);
      }
    }
    return closed;
  }

  /** Stops following the credentials and clears every timer (the connections themselves are the owner's). */
  close(): void {
    this.#stop?.();
    for (const socket of [...this.#entries.keys()]) this.#remove(socket);
  }

  #schedule(socket: S, minimumMs = 0): void {
    const entry = this.#entries.get(socket);
    if (!entry) return;
    if (entry.timer !== undefined) this.#timers.clearTimeout(entry.timer);
    const material = this.#options.credentials?.material;
    const deadline = material ? nextTrustDeadline(entry.identity, material) : entry.identity.notAfter;
    const delay = Math.max(minimumMs, deadline.getTime() - this.#options.clock().getTime());
    entry.timer = this.#timers.setTimeout(() => this.#reached(socket), Math.min(delay, MAX_TIMER_MS));
  }

  #reached(socket: S): void {
    const entry = this.#entries.get(socket);
    if (!entry) return;
    entry.timer = undefined;
    if (!this.#options.check(socket, entry.identity)) {
      this.#remove(socket);
      return;
    }
    // Still trusted: the deadline is later (a step of a long wait) or the clock lags the timer a little.
    this.#schedule(socket, RETRY_MS);
  }

  #remove(socket: S): void {
    const entry = this.#entries.get(socket);
    if (!entry) return;
    if (entry.timer !== undefined) this.#timers.clearTimeout(entry.timer);
    this.#entries.delete(socket);
  }
}
