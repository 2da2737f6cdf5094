// GET /v1/admin/audit?event_type&principal&since&until&cursor&limit → {entries, cursor}.
// Who may read is not decided here: the node's auth hook requires the audit.read permission.
import type { FastifyInstance } from 'fastify';
import type { AuditStore } from '../../../store/ports/audit.ts';
import { parseAuditQuery } from './query.ts';

export const AUDIT_ROUTE = '/v1/admin/audit';

export interface AuditRouteDeps {
  store: Pick<AuditStore, 'listAudit'>;
}

export function registerAuditRoutes(app: FastifyInstance, deps: AuditRouteDeps): void {
  app.get(AUDIT_ROUTE, { config: { access: 'audit.read', quota: 'admin' } }, async (request) => {
    const { filter, limit, cursor } = parseAuditQuery(request.query);
    const page = await deps.store.listAudit(filter, limit, cursor);
    return { entries: page.entries, cursor: page.cursor };
  });
}
