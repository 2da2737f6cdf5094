// /healthz: the process answers. /readyz: the store accepts writes and the TLS material is valid and
// unexpired, i.e. the node can do its job. /metrics: the one Prometheus registry.
import type { FastifyInstance } from 'fastify';
import type { Store } from '../../store/store.ts';
import type { Clock } from '../../tls/clock.ts';
import type { CredentialSource } from '../../tls/credential-source.ts';
import { registry } from '../../tls/metrics.ts';

export function registerHealthRoutes(
  app: FastifyInstance,
  deps: { store: Store; credentials: CredentialSource | null; clock: Clock },
): void {
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    const checks: Record<string, string> = {};
    checks.store = (await deps.store.writable().catch(() => false)) ? 'ok' : 'not writable';
    if (deps.credentials) {
      const leaf = deps.credentials.material.leaf;
      checks.tls =
        leaf.notAfter.getTime() > deps.clock().getTime() ? 'ok' : `expired at ${leaf.notAfter.toISOString()}`;
    }
    const ready = Object.values(checks).every((v) => v === 'ok');
    return reply.status(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not_ready', checks });
  });
  app.get('/metrics', async (_request, reply) =>
    reply.header('content-type', registry.contentType).send(await registry.metrics()),
  );
}
