// /healthz: the process answers. /readyz: the store accepts writes and the TLS material is valid and
// unexpired, i.e. the node can do its job. /metrics: the one Prometheus registry.
import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import type { Store } from '../../../store/store.ts';
import type { Clock } from '../../../tls/clock.ts';
import type { CredentialSource } from '../../../tls/credential-source.ts';

const OPEN = { config: { access: 'open' } } as const;

export function registerHealthRoutes(
  app: FastifyInstance,
  deps: { store: Store; credentials: CredentialSource | null; clock: Clock; registry: Registry },
): void {
  app.get('/healthz', OPEN, async () => ({ status: 'ok' }));
  app.get('/readyz', OPEN, async (_request, reply) => {
    const checks: Record<string, string> = {};
    const store = await deps.store
      .writable()
      .catch((error: Error) => ({ ok: false as const, reason: error.message }));
    checks.store = store.ok ? 'ok' : `not writable: ${store.reason}`;
    if (deps.credentials) {
      // Every certificate we serve or trust must be inside its validity now, not only the leaf's end.
      const { leaf, chain, cas } = deps.credentials.material;
      const now = deps.clock().getTime();
      const bad = [leaf, ...chain, ...cas].find(
        (c) => c.notBefore.getTime() > now || c.notAfter.getTime() <= now,
      );
      checks.tls = bad
        ? `${bad.subject} is outside its validity (${bad.notBefore.toISOString()} – ${bad.notAfter.toISOString()})`
        : 'ok';
    }
    const ready = Object.values(checks).every((v) => v === 'ok');
    return reply.status(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not_ready', checks });
  });
  app.get('/metrics', OPEN, async (_request, reply) =>
    reply.header('content-type', deps.registry.contentType).send(await deps.registry.metrics()),
  );
}
