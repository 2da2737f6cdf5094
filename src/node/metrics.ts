// The node's metrics, in the library's one registry so /metrics shows transport and node together.
import { Counter, Gauge } from 'prom-client';
import { registry } from '../tls/metrics.ts';

/** When each peer's feed was last drained completely (ms), for the replication lag gauge. */
const caughtUpAt = new Map<string, number>();

export function markCaughtUp(peer: string, atMs: number): void {
  caughtUpAt.set(peer, atMs);
}

export const nodeMetrics = {
  replicationLag: new Gauge({
    name: 'tessera_federation_replication_lag_seconds',
    help: "Seconds since this node last held everything a peer's feed offered (0 right after a complete pull)",
    labelNames: ['peer'] as const,
    registers: [registry],
    collect() {
      const now = Date.now();
      for (const [peer, at] of caughtUpAt) this.set({ peer }, Math.max(0, (now - at) / 1000));
    },
  }),
  factsWritten: new Counter({
    name: 'tessera_facts_written_total',
    help: 'Facts asserted through the API and stored (duplicates of stored content not counted)',
    registers: [registry],
  }),
  factsReplicated: new Counter({
    name: 'tessera_facts_replicated_total',
    help: 'Facts received from a peer and stored, by peer entity URI',
    labelNames: ['peer'] as const,
    registers: [registry],
  }),
  factsRefused: new Counter({
    name: 'tessera_federation_facts_refused_total',
    help: 'Facts in a peer feed that failed validation (bad CID, schema, scope) and were skipped',
    labelNames: ['peer', 'reason'] as const,
    registers: [registry],
  }),
  pulls: new Counter({
    name: 'tessera_federation_pulls_total',
    help: 'Federation pull cycles by peer and result',
    labelNames: ['peer', 'result'] as const,
    registers: [registry],
  }),
  lastPullSuccess: new Gauge({
    name: 'tessera_federation_last_pull_success_timestamp_seconds',
    help: 'Unix time of the last complete pull cycle from a peer',
    labelNames: ['peer'] as const,
    registers: [registry],
  }),
  federationRejections: new Counter({
    name: 'tessera_federation_rejections_total',
    help: 'Federation requests refused after the handshake (token, binding, approval), by reason',
    labelNames: ['reason'] as const,
    registers: [registry],
  }),
};
