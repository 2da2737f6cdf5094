// Health and metrics: /healthz, /readyz and /metrics on the API listener, /healthz and /readyz on the
// federation listener too (the Stigmem documents check health there over mTLS), and per-route request
// metrics on both listeners (first in compose order, so every request is counted, refused ones included).

import type { NodeContext } from '../../app/context.ts';
import type { Feature } from '../../app/feature.ts';
import { installRequestMetrics } from './request-metrics.ts';
import { registerHealthRoutes, registerProbeRoutes } from './routes.ts';

export function healthFeature(ctx: NodeContext): Feature {
  return {
    name: 'health',
    apiHooks: (app) => installRequestMetrics(app, 'api', ctx.metrics),
    federationHooks: (app) => installRequestMetrics(app, 'federation', ctx.metrics),
    api: async (app) =>
      registerHealthRoutes(app, {
        store: ctx.store,
        credentials: ctx.credentials,
        clock: ctx.clock,
        registry: ctx.registry,
      }),
    federation: async (app) =>
      registerProbeRoutes(app, { store: ctx.store, credentials: ctx.credentials, clock: ctx.clock }),
  };
}
