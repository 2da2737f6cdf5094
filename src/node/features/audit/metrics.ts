// Audit metrics, in the library's one registry so the node's /metrics shows them with everything else.
import { Counter } from 'prom-client';
import { registry } from '../../../tls/metrics.ts';

export const auditMetrics = {
  writeFailures: new Counter({
    name: 'tessera_audit_write_failures_total',
    help: 'Audit entries that could not be written, by event type (each one is also logged as an error)',
    labelNames: ['event_type'] as const,
    registers: [registry],
  }),
};
