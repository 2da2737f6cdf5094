// The library's one prom-client registry and the identity core's metrics. Later layers (transports,
// the node) register their metrics in the same `registry`, so one /metrics endpoint shows everything.
import { Counter, Gauge, Registry } from 'prom-client';

export const registry = new Registry();

export const tlsMetrics = {
  reloads: new Counter({
    name: 'tessera_tls_reload_total',
    help: 'TLS credential reload attempts by result and reason',
    labelNames: ['result', 'reason'] as const,
    registers: [registry],
  }),
  lastReloadSuccess: new Gauge({
    name: 'tessera_tls_last_reload_success_timestamp_seconds',
    help: 'Unix time of the last successful TLS credential load or reload',
    registers: [registry],
  }),
  rejections: new Counter({
    name: 'tessera_tls_handshake_rejections_total',
    help: 'Peers refused during or right after the TLS handshake, by side and reason',
    labelNames: ['side', 'reason'] as const,
    registers: [registry],
  }),
  certExpiry: new Gauge({
    name: 'tessera_tls_cert_expiry_timestamp_seconds',
    help: 'notAfter of a certificate as Unix time (leaf, chain_min, ca:<subject>, peer:<identity>)',
    labelNames: ['cert'] as const,
    registers: [registry],
  }),
  certTtl: new Gauge({
    name: 'tessera_tls_cert_expiry_ttl_seconds',
    help: 'Seconds until a certificate expires (negative once expired)',
    labelNames: ['cert'] as const,
    registers: [registry],
  }),
  insecureMode: new Gauge({
    name: 'tessera_insecure_mode',
    help: '1 when federation runs without TLS (local development only)',
    registers: [registry],
  }),
};
