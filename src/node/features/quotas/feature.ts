// Quotas: per-principal token buckets on the API listener (the dimension each route declares) and per-peer
// feed pulls on the federation listener; breaches are counted and sampled into the audit log.

import type { NodeContext } from '../../app/context.ts';
import type { Feature } from '../../app/feature.ts';
import { installQuotas } from './quota-hook.ts';
import { createQuotas, type Quotas, warnIfQuotasDisabled } from './quotas.ts';

export function quotasFeature(ctx: NodeContext): Feature & { quotas: Quotas } {
  warnIfQuotasDisabled(ctx.config.quotas, ctx.logger);
  const quotas = createQuotas(ctx.config.quotas, ctx.clock, {
    onBreach: (dimension, principal) => {
      ctx.metrics.quotaBreaches.inc({ dimension });
      if (ctx.sample(`quota_breach:${principal}:${dimension}`))
        void ctx.audit.note('quota_breach', principal, { dimension });
    },
  });
  return { name: 'quotas', quotas, apiHooks: (app) => installQuotas(app, quotas) };
}
