// Quotas: per-principal token buckets on the API listener (the dimension each route declares) and per-peer
// feed pulls on the federation listener; breaches are counted and sampled into the audit log.

import type { NodeContext } from '../../app/context.ts';
import type { Feature } from '../../app/feature.ts';
import { installQuotas } from './quota-hook.ts';
import { createQuotas, createSharedQuotas, type Quotas, warnIfQuotasDisabled } from './quotas.ts';

export function quotasFeature(ctx: NodeContext): Feature & { quotas: Quotas } {
  warnIfQuotasDisabled(ctx.config.quotas, ctx.logger);
  const options = {
    onBreach: (dimension: string, principal: string) => {
      ctx.metrics.quotaBreaches.inc({ dimension });
      if (ctx.sample(`quota_breach:${principal}:${dimension}`))
        void ctx.audit.note('quota_breach', principal, { dimension });
    },
  };
  // Replicas on one database share the buckets there; one process keeps them in memory.
  const { buckets } = ctx.store;
  const quotas = buckets
    ? createSharedQuotas(ctx.config.quotas, buckets, ctx.clock, options)
    : createQuotas(ctx.config.quotas, ctx.clock, options);
  return { name: 'quotas', quotas, apiHooks: (app) => installQuotas(app, quotas) };
}
