// A bounded memory of some of the node's counters, for "over the last hour" and rates on the status page.
// The counters already count everything (refusals by reason, facts replicated per peer); what they lack is
// time. So their cumulative values are read every step (a minute) and kept for the window (an hour): what
// happened in the last hour is the value now minus the value at the oldest reading inside that hour.
// Nothing on a hot path changes, and memory is bounded by readings × series (both capped).
import type { Registry } from 'prom-client';

export type Labels = Record<string, string>;

export interface CounterDelta {
  metric: string;
  labels: Labels;
  /** What the series counted since the baseline reading. */
  delta: number;
}

export interface HistoryOptions {
  registry: Registry;
  /** Names of the counters to remember (absent ones are skipped). */
  metrics: readonly string[];
  /** Milliseconds now (the node's clock). */
  now: () => number;
  /** How far back readings are kept; default an hour. */
  windowMs?: number;
  /** Series kept per reading; the rest are not remembered (the counters still have them); default 2000. */
  maxSeries?: number;
}

interface Reading {
  atMs: number;
  values: Map<string, number>;
}

/** Readings kept at most, whatever the caller's pace: an hour of one a minute, with room to spare. */
const MAX_READINGS = 120;

const seriesKey = (metric: string, labels: Labels) =>
  `${metric}\u0000${Object.keys(labels)
    .sort()
    .map((name) => `${name}=${labels[name]}`)
    .join('\u0000')}`;

export class CounterHistory {
  readonly #readings: Reading[] = [];
  readonly #labels = new Map<string, { metric: string; labels: Labels }>();
  readonly #windowMs: number;
  readonly #maxSeries: number;

  constructor(private readonly options: HistoryOptions) {
    this.#windowMs = options.windowMs ?? 3_600_000;
    this.#maxSeries = options.maxSeries ?? 2000;
  }

  /** Reads the counters now and keeps the reading; readings older than the window go. */
  async record(): Promise<void> {
    const atMs = this.options.now();
    this.#readings.push({ atMs, values: await this.#read() });
    // The one just taken is always kept: it is inside any window.
    while (
      this.#readings.length > MAX_READINGS ||
      (this.#readings[0] as Reading).atMs < atMs - this.#windowMs
    )
      this.#readings.shift();
  }

  /**
   * What each series counted since the oldest reading within `windowMs` of now, and when that reading was
   * taken (younger than `windowMs` while the node is). Zero deltas are left out.
   */
  async since(windowMs: number): Promise<{ sinceMs: number; deltas: CounterDelta[] }> {
    const nowMs = this.options.now();
    const current = await this.#read();
    const baseline = this.#readings.find((r) => r.atMs >= nowMs - windowMs);
    const deltas: CounterDelta[] = [];
    for (const [key, value] of current) {
      const before = baseline?.values.get(key) ?? 0;
      // A series removed and made again (a forgotten peer) starts from zero: its value now is all new.
      const delta = value >= before ? value - before : value;
      if (delta > 0) deltas.push({ ...(this.#labels.get(key) as { metric: string; labels: Labels }), delta });
    }
    return { sinceMs: baseline?.atMs ?? nowMs, deltas };
  }

  async #read(): Promise<Map<string, number>> {
    const values = new Map<string, number>();
    for (const name of this.options.metrics) {
      const metric = this.options.registry.getSingleMetric(name);
      if (!metric) continue;
      for (const { labels, value } of (await metric.get()).values) {
        const plain = Object.fromEntries(Object.entries(labels).map(([k, v]) => [k, String(v)]));
        const key = seriesKey(name, plain);
        if (!values.has(key) && values.size >= this.#maxSeries) continue;
        values.set(key, value);
        if (!this.#labels.has(key)) this.#labels.set(key, { metric: name, labels: plain });
      }
    }
    // Label sets no reading holds any more are forgotten with the readings.
    if (this.#labels.size > this.#maxSeries * 2) this.#forgetLabels(values);
    return values;
  }

  #forgetLabels(current: Map<string, number>): void {
    for (const key of this.#labels.keys())
      if (!current.has(key) && !this.#readings.some((r) => r.values.has(key))) this.#labels.delete(key);
  }
}
