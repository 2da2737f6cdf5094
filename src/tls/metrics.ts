// The identity core's metrics, declared in the registry the caller passes in (the node passes its one
// registry, so its /metrics shows transport and node together). No module-level registry: two nodes in
// one process, or a library user with their own registry, never share counters by accident.
import { Counter, Gauge, Registry } from 'prom-client';

export type TlsMetrics = ReturnType<typeof createTlsMetrics>;

/** The TLS metrics in `registry`; without one, in a private registry nobody scrapes (counting stays cheap). */
export function createTlsMetrics(registry: Registry = new Registry()) {
  return {
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
    crlStaleAccepted: new Counter({
      name: 'tessera_tls_crl_stale_accepted_total',
      help: 'Peers accepted although the CRL of their CA is past nextUpdate (TESSERA_TLS_CRL_STALE=warn), by side',
      labelNames: ['side'] as const,
      registers: [registry],
    }),
    certExpiry: new Gauge({
      name: 'tessera_tls_cert_expiry_timestamp_seconds',
      help: "notAfter of a certificate as Unix time (leaf, chain_min, ca:<subject>, peer:<identity>; crl:<issuer CN> is a CRL's nextUpdate)",
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
}
