// "Rejections in the last hour": every refusal the node counts, by where it happened and why: TLS
// handshakes (either side), federation requests after the handshake, API authentication, quota breaches,
// and facts or feed pages refused from peers. Read from the counters through the counter history.
import type { CounterDelta, Labels } from './counter-history.ts';
import { iso } from './time.ts';

/** The counters that count refusals, and what each is called on the page. */
export const REJECTION_COUNTERS: Record<string, string> = {
  tessera_tls_handshake_rejections_total: 'tls_handshake',
  tessera_federation_rejections_total: 'federation_request',
  tessera_api_auth_failures_total: 'api_auth',
  tessera_quota_breaches_total: 'quota',
  tessera_federation_facts_refused_total: 'peer_fact',
  tessera_federation_pages_refused_total: 'peer_page',
};

/** Rows shown at most (the largest counts); the total counts every one. */
const MAX_ROWS = 50;

function reasonOf(labels: Labels): string {
  return labels.reason ?? labels.dimension ?? 'unknown';
}

/** The labels besides the reason (side, peer), for the row's detail. */
function detailOf(labels: Labels): Labels {
  const { reason: _reason, dimension: _dimension, ...rest } = labels;
  return rest;
}

export function rejectionsSection(window: { sinceMs: number; deltas: CounterDelta[] }, windowMs: number) {
  const rows = window.deltas
    .filter((d) => d.metric in REJECTION_COUNTERS)
    .map((d) => ({
      source: REJECTION_COUNTERS[d.metric] as string,
      reason: reasonOf(d.labels),
      labels: detailOf(d.labels),
      count: d.delta,
    }))
    .sort(
      (a, b) => b.count - a.count || a.source.localeCompare(b.source) || a.reason.localeCompare(b.reason),
    );
  return {
    window_seconds: Math.round(windowMs / 1000),
    since: iso(window.sinceMs),
    total: rows.reduce((sum, row) => sum + row.count, 0),
    rows: rows.slice(0, MAX_ROWS),
  };
}
