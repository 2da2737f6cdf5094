// GET /v1/admin/audit?event_type&principal&since&until&cursor&limit → {entries, cursor}.
// Who may read is not decided here: the node's auth hook requires the audit.read permission.
import type { FastifyInstance } from 'fastify';
import type { StoreOps } from '../../store/store.ts';
import { HttpError } from '../http-errors.ts';
import { parseAuditQuery } from './query.ts';

export const AUDIT_ROUTE = '/v1/admin/audit';

export interface AuditRouteDeps {
  store: Pick<StoreOps, 'listAudit'>;
}

/** A store's input error (a cursor it did not issue) by shape, so any Store implementation maps alike. */
function storeInputError(error: unknown): HttpError | null {
  if (!(error instanceof Error)) return null;
  const code = (error as { code?: unknown }).code;
  if (error.name !== 'StoreInputError' && code !== 'invalid_cursor') return null;
  return new HttpError(
    422,
    typeof code === 'string' ? code : 'validation_failed',
    code === 'invalid_cursor' ? `cursor: ${error.message}` : error.message,
  );
}

export function registerAuditRoutes(app: FastifyInstance, deps: AuditRouteDeps): void {
  app.get(AUDIT_ROUTE, async (request) => {
    const { filter, limit, cursor } = parseAuditQuery(request.query);
    try {
      const page = await deps.store.listAudit(filter, limit, cursor);
      return { entries: page.entries, cursor: page.cursor };
    } catch (error) {
      throw storeInputError(error) ?? error;
    }
  });
}
