// Facts: the Stigmem-shaped facts API and the service that stores facts written here and takes in facts
// replicated from peers. A write is announced on the node's events (federation wakes the peers).

import type { NodeContext } from '../../app/context.ts';
import type { Feature } from '../../app/feature.ts';
import { HybridClock } from './hlc.ts';
import { registerFactRoutes } from './routes.ts';
import { FactService } from './service.ts';

export async function factsFeature(ctx: NodeContext): Promise<Feature & { service: FactService }> {
  // Seeded from the largest HLC stored, so the clock never goes backwards across a restart or a clock step.
  const stored = await ctx.store.maxHlc();
  const service = new FactService({
    store: ctx.store,
    selfEntityUri: ctx.config.entityUri,
    hlc: new HybridClock(() => ctx.clock().getTime(), stored ? { initial: stored } : {}),
    maxClockSkewMs: ctx.config.maxClockSkewMs,
    now: ctx.clock,
    onWrite: () => {
      ctx.metrics.factsWritten.inc();
      ctx.events.emit('fact_written');
    },
  });
  return {
    name: 'facts',
    service,
    api: async (app) => registerFactRoutes(app, { service, store: ctx.store }),
  };
}
