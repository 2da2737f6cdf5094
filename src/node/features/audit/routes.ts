// GET /v1/admin/audit?event_type&principal&since&until&cursor&limit → {entries, total, cursor}.
// Who may read is not decided here: the node's auth hook requires the audit.read permission (403
// `audit.read capability required` otherwise). Each entry is the stored one (its hash covers exactly
// those fields) plus `entity_uri`, the principal under Stigmem's name, which its tutorial's jq reads;
// `total` counts every entry matching the filter, not only this page.
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
    return {
      entries: page.entries.map((entry) => ({ ...entry, entity_uri: entry.principal })),
      total: page.total,
      cursor: page.cursor,
    };
  });
}
