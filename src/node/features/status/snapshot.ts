// The status document: each section from its own module, over what the node already keeps (peer
// directory, puller, metrics, expiry monitor, quotas), assembled at one instant of the node's clock.
import type { NodeContext } from '../../app/context.ts';
import type { PeerReplication } from '../federation/puller.ts';
import type { Quotas } from '../quotas/quotas.ts';
import { certificatesSection } from './certificates-section.ts';
import type { CounterDelta, CounterHistory } from './counter-history.ts';
import { nodeSection } from './node-section.ts';
import { peersSection } from './peers-section.ts';
import { quotasSection } from './quotas-section.ts';
import { REJECTION_COUNTERS, rejectionsSection } from './rejections-section.ts';
import { iso } from './time.ts';

export const REPLICATED = 'tessera_facts_replicated_total';
export const WRITTEN = 'tessera_facts_written_total';
/** Every counter the history remembers. */
export const REMEMBERED = [...Object.keys(REJECTION_COUNTERS), REPLICATED, WRITTEN];

const HOUR_MS = 3_600_000;
/** Rates are over the last five minutes (or since start, for a younger node). */
const RATE_WINDOW_MS = 300_000;

export interface StatusDeps {
  ctx: NodeContext;
  replication(peerId: string): PeerReplication;
  quotas: Quotas;
  history: CounterHistory;
  startedAtMs: number;
}

/** Per minute, by the given label, of one counter's deltas over a window that started at `sinceMs`. */
function perMinute(deltas: CounterDelta[], metric: string, label: string | null, minutes: number) {
  const rates = new Map<string, number>();
  for (const d of deltas) {
    if (d.metric !== metric) continue;
    const key = label ? (d.labels[label] ?? '') : '';
    rates.set(key, (rates.get(key) ?? 0) + d.delta / minutes);
  }
  return rates;
}

export async function buildStatus(deps: StatusDeps) {
  const { ctx } = deps;
  const nowMs = ctx.clock().getTime();
  const [hour, recent, quotas] = await Promise.all([
    deps.history.since(HOUR_MS),
    deps.history.since(RATE_WINDOW_MS),
    quotasSection(deps.quotas),
  ]);
  // At least a second: rates right after start are not divided by nothing.
  const minutes = Math.max(1000, nowMs - recent.sinceMs) / 60_000;
  const byPeer = perMinute(recent.deltas, REPLICATED, 'peer', minutes);
  const certificates = ctx.expiry?.tracked() ?? [];
  return {
    generated_at: iso(nowMs),
    node: nodeSection(ctx, nowMs, deps.startedAtMs),
    peers: peersSection({
      peers: ctx.peers.list(),
      replication: deps.replication,
      caughtUpAt: (uri) => ctx.metrics.caughtUpAt(uri),
      ratePerMinute: byPeer,
      certificates,
      clockOf: (uri) => ctx.peerClocks.get(uri),
      maxClockSkewMs: ctx.config.maxClockSkewMs,
      nowMs,
    }),
    replication: {
      window_seconds: Math.round((nowMs - recent.sinceMs) / 1000),
      replicated_per_minute: [...byPeer.values()].reduce((a, b) => a + b, 0),
      written_per_minute: perMinute(recent.deltas, WRITTEN, null, minutes).get('') ?? 0,
    },
    certificates: certificatesSection(ctx.expiry, nowMs),
    rejections: rejectionsSection(hour, HOUR_MS),
    quotas,
  };
}

export type StatusDocument = Awaited<ReturnType<typeof buildStatus>>;
