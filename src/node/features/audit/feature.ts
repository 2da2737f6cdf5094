// The audit log: the trail hook that records successful API actions (the entry each route declares), the
// admin route that reads the log, and the TLS reloads of the node's credentials.

import type { NodeContext } from '../../app/context.ts';
import type { Feature } from '../../app/feature.ts';
import { installAuditTrail } from './audit-trail.ts';
import { registerAuditRoutes } from './routes.ts';

export function auditFeature(ctx: NodeContext): Feature {
  const { audit } = ctx;
  ctx.credentials?.on('reload', (event) => {
    if (event.result !== 'unchanged')
      void audit.note('tls_reload', null, {
        result: event.result,
        trigger: event.trigger,
        reason: event.reason ?? null,
        fingerprint256: event.fingerprint256,
      });
  });
  return {
    name: 'audit',
    apiHooks: (app) => installAuditTrail(app, audit),
    api: async (app) => registerAuditRoutes(app, { store: ctx.store }),
  };
}
