// /healthz: the process answers. /readyz: the store accepts writes and the TLS material is valid and
// unexpired, i.e. the node can do its job. Both answer `{"status":"ok"}` (Stigmem's probes read that) on
// both listeners; on the federation listener only a client that passed the mTLS handshake gets this far,
// and no peer token is asked for. /metrics (the one Prometheus registry) is on the API listener only.
import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import { z } from 'zod';
import type { Store } from '../../../store/store.ts';
import type { Clock } from '../../../tls/clock.ts';
import type { CredentialSource } from '../../../tls/credential-source.ts';
import { describeRoute } from '../../http/openapi/route-doc.ts';

const OPEN = { access: 'open' } as const;
const TAG = 'health';
const checks = z.record(z.string(), z.string()).meta({ description: 'Each check: `ok` or what is wrong.' });

const healthzDoc = describeRoute({
  tag: TAG,
  summary: 'Liveness: the process answers',
  responses: {
    200: {
      description: 'Alive.',
      schema: z.strictObject({ status: z.literal('ok') }),
      example: { status: 'ok' },
    },
  },
});
const readyzDoc = describeRoute({
  tag: TAG,
  summary: 'Readiness: the store takes writes and the TLS material is inside its validity',
  responses: {
    200: {
      description: 'Ready.',
      schema: z.strictObject({ status: z.literal('ok'), checks }),
      example: { status: 'ok', checks: { store: 'ok', tls: 'ok' } },
    },
    503: {
      description: 'Not ready; `reason` joins the failing checks.',
      schema: z.strictObject({ status: z.literal('not_ready'), reason: z.string(), checks }),
      example: {
        status: 'not_ready',
        reason: 'store: not writable: database is locked',
        checks: { store: 'not writable: database is locked', tls: 'ok' },
      },
    },
  },
});
const metricsDoc = describeRoute({
  tag: TAG,
  summary: 'Prometheus metrics',
  description: 'TLS (reloads, expiry, rejections), federation, quotas, authentication failures and requests.',
  responses: { 200: { description: 'The Prometheus text format.', contentType: 'text/plain' } },
});

export interface ProbeDeps {
  store: Store;
  credentials: CredentialSource | null;
  clock: Clock;
}

export function registerProbeRoutes(app: FastifyInstance, deps: ProbeDeps): void {
  app.get('/healthz', { config: { ...OPEN, openapi: healthzDoc } }, async () => ({ status: 'ok' }));
  app.get('/readyz', { config: { ...OPEN, openapi: readyzDoc } }, async (_request, reply) => {
    const checks = await readiness(deps);
    const failing = Object.entries(checks).filter(([, v]) => v !== 'ok');
    if (failing.length === 0) return reply.send({ status: 'ok', checks });
    const reason = failing.map(([name, v]) => `${name}: ${v}`).join('; ');
    return reply.status(503).send({ status: 'not_ready', reason, checks });
  });
}

export function registerHealthRoutes(app: FastifyInstance, deps: ProbeDeps & { registry: Registry }): void {
  registerProbeRoutes(app, deps);
  app.get('/metrics', { config: { ...OPEN, openapi: metricsDoc } }, async (_request, reply) =>
    reply.header('content-type', deps.registry.contentType).send(await deps.registry.metrics()),
  );
}

async function readiness(deps: ProbeDeps): Promise<Record<string, string>> {
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
  return checks;
}
