// Rule 6: expiry gauges for our leaf, the served chain's minimum, every CA in the bundle and the peers we
// have seen, plus warning / critical events when a certificate enters a configurable window. Each loaded
// CRL's nextUpdate is followed the same way (label crl:<issuer CN>): past it, that CA's peers are refused.
import { EventEmitter } from 'node:events';
import { type Clock, systemClock } from './clock.ts';
import type { CredentialSource } from './credential-source.ts';
import { followCredentials } from './follow.ts';
import { describePeer, type PeerIdentity } from './identity.ts';
import { defaultLogger, type Logger } from './logger.ts';
import type { Material } from './material.ts';
import { createTlsMetrics, type TlsMetrics } from './metrics.ts';
import type { ParsedCertificate } from './x509.ts';

const DAY_MS = 86_400_000;

export interface ExpiryOptions {
  /** Days before notAfter at which a warning is raised; default 30. */
  warningDays?: number;
  /** Days before notAfter at which it becomes critical; default 7. */
  criticalDays?: number;
  /** How often to re-check while running; default hourly; 0 = only on explicit check(). */
  checkIntervalMs?: number;
  /** At most this many peers are tracked (oldest dropped), to bound label cardinality; default 500. */
  maxPeers?: number;
  clock?: Clock;
  logger?: Logger;
  /** Where expiry gauges are set; default a private registry. */
  metrics?: TlsMetrics;
}

export type ExpiryLevel = 'ok' | 'warning' | 'critical' | 'expired';

export interface ExpiryEvent {
  level: Exclude<ExpiryLevel, 'ok'>;
  /** Gauge label: leaf, chain_min, ca:<subject>, peer:<identity>. */
  cert: string;
  subject: string;
  notAfter: Date;
  secondsLeft: number;
}

interface Tracked {
  subject: string;
  notAfter: Date;
}

/** One certificate the monitor follows, as `tracked()` reports it. */
export interface TrackedCertificate {
  /** Gauge label: leaf, chain_min, ca:<subject>, peer:<identity>, crl:<issuer CN> (notAfter = nextUpdate). */
  cert: string;
  subject: string;
  notAfter: Date;
  level: ExpiryLevel;
}

export class ExpiryMonitor extends EventEmitter<{ expiry: [event: ExpiryEvent] }> {
  readonly #own = new Map<string, Tracked>();
  readonly #peers = new Map<string, Tracked>();
  /** The label and entry each identity object was filed under: identity.ts shares one object per certificate. */
  readonly #seen = new WeakMap<PeerIdentity, { label: string; tracked: Tracked }>();
  readonly #warningMs: number;
  readonly #criticalMs: number;
  readonly #clock: Clock;
  readonly #metrics: TlsMetrics;
  readonly #logger: Logger;
  readonly #maxPeers: number;
  #timer: NodeJS.Timeout | undefined;
  #unsubscribe: (() => void) | undefined;

  constructor(options: ExpiryOptions = {}) {
    super();
    const warningDays = options.warningDays ?? 30;
    const criticalDays = options.criticalDays ?? 7;
    if (!(criticalDays >= 0 && warningDays >= criticalDays)) {
      throw new RangeError(
        `expiry windows must satisfy 0 <= critical (${criticalDays}) <= warning (${warningDays}) days`,
      );
    }
    this.#warningMs = warningDays * DAY_MS;
    this.#criticalMs = criticalDays * DAY_MS;
    this.#clock = options.clock ?? systemClock;
    this.#logger = options.logger ?? defaultLogger();
    this.#metrics = options.metrics ?? createTlsMetrics();
    this.#maxPeers = options.maxPeers ?? 500;
    const interval = options.checkIntervalMs ?? 3_600_000;
    if (interval > 0) {
      this.#timer = setInterval(() => this.check(), interval);
      this.#timer.unref();
    }
  }

  /** Tracks a credential source's material now and after every reload. */
  track(source: CredentialSource): this {
    this.#unsubscribe?.();
    this.#unsubscribe = followCredentials(source, (material) => this.setMaterial(material), {
      initial: true,
    });
    return this;
  }

  setMaterial(material: Material): ExpiryEvent[] {
    for (const label of this.#own.keys()) {
      this.#metrics.certExpiry.remove(label);
      this.#metrics.certTtl.remove(label);
    }
    this.#own.clear();
    const served = [material.leaf, ...material.chain];
    const soonest = served.reduce((a, b) => (b.notAfter < a.notAfter ? b : a));
    this.#own.set('leaf', tracked(material.leaf));
    this.#own.set('chain_min', tracked(soonest));
    for (const ca of material.cas) this.#own.set(`ca:${ca.subject}`, tracked(ca));
    for (const crl of material.crls ?? []) {
      if (crl.nextUpdate)
        this.#own.set(crlLabel(crl.issuer), { subject: crl.issuer, notAfter: crl.nextUpdate });
    }
    return this.check();
  }

  observePeer(identity: PeerIdentity): void {
    // Every connection of a peer calls this: the same identity object, still filed, skips building its label.
    const seen = this.#seen.get(identity);
    if (seen && this.#peers.get(seen.label) === seen.tracked) {
      this.#touch(seen.label, seen.tracked);
      return;
    }
    const label = `peer:${describePeer(identity)}`;
    const known = this.#peers.get(label);
    if (
      known &&
      known.subject === identity.subject &&
      known.notAfter.getTime() === identity.notAfter.getTime()
    ) {
      this.#seen.set(identity, { label, tracked: known });
      this.#touch(label, known);
      return;
    }
    const entry = { subject: identity.subject, notAfter: identity.notAfter };
    this.#seen.set(identity, { label, tracked: entry });
    this.#peers.delete(label);
    this.#peers.set(label, entry);
    if (this.#peers.size > this.#maxPeers) {
      const oldest = this.#peers.keys().next().value as string;
      this.#peers.delete(oldest);
      this.#metrics.certExpiry.remove(oldest);
      this.#metrics.certTtl.remove(oldest);
    }
    this.#update(label, this.#peers.get(label) as Tracked, false);
  }

  /** Refreshes every gauge and emits an event for each certificate inside a window; returns those events. */
  check(): ExpiryEvent[] {
    const events: ExpiryEvent[] = [];
    for (const [label, cert] of [...this.#own, ...this.#peers]) {
      const event = this.#update(label, cert, true);
      if (event) events.push(event);
    }
    return events;
  }

  /** Every certificate followed now (ours first, then peers from least to most recently seen), with its level. */
  tracked(): TrackedCertificate[] {
    return [...this.#own, ...this.#peers].map(([cert, { subject, notAfter }]) => ({
      cert,
      subject,
      notAfter,
      level: this.levelOf(notAfter),
    }));
  }

  /** The warning and critical windows, in milliseconds before notAfter. */
  get windows(): { warningMs: number; criticalMs: number } {
    return { warningMs: this.#warningMs, criticalMs: this.#criticalMs };
  }

  levelOf(notAfter: Date): ExpiryLevel {
    const left = notAfter.getTime() - this.#clock().getTime();
    if (left <= 0) return 'expired';
    if (left <= this.#criticalMs) return 'critical';
    if (left <= this.#warningMs) return 'warning';
    return 'ok';
  }

  close(): void {
    clearInterval(this.#timer);
    this.#unsubscribe?.();
  }

  /**
   * The same certificate again: only its recency changes. Its gauges were set when it was first seen, and
   * check() refreshes them on its timer.
   */
  #touch(label: string, entry: Tracked): void {
    this.#peers.delete(label);
    this.#peers.set(label, entry);
  }

  #update(label: string, cert: Tracked, emit: boolean): ExpiryEvent | undefined {
    const secondsLeft = Math.round((cert.notAfter.getTime() - this.#clock().getTime()) / 1000);
    this.#metrics.certExpiry.set({ cert: label }, cert.notAfter.getTime() / 1000);
    this.#metrics.certTtl.set({ cert: label }, secondsLeft);
    const level = this.levelOf(cert.notAfter);
    if (level === 'ok' || !emit) return undefined;
    const event: ExpiryEvent = {
      level,
      cert: label,
      subject: cert.subject,
      notAfter: cert.notAfter,
      secondsLeft,
    };
    const log =
      level === 'warning' ? this.#logger.warn.bind(this.#logger) : this.#logger.error.bind(this.#logger);
    log(
      { event: 'tls_cert_expiry', ...event },
      label.startsWith('crl:')
        ? `CRL ${label} is due for renewal ${cert.notAfter.toISOString()} (${level})`
        : `certificate ${label} expires ${cert.notAfter.toISOString()} (${level})`,
    );
    this.emit('expiry', event);
    return event;
  }
}

/** The gauge label of a CRL: crl:<issuer CN> (the whole issuer name when it has no CN). */
export function crlLabel(issuer: string): string {
  return `crl:${/(?:^|,\s*)CN=([^,]+)/.exec(issuer)?.[1] ?? issuer}`;
}

function tracked(cert: ParsedCertificate): Tracked {
  return { subject: cert.subject, notAfter: cert.notAfter };
}
