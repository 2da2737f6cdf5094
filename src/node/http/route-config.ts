// What each route declares about itself, in its own route options (`config`), read by the listener-wide
// hooks: who may call it (auth), which quota it draws on, and which audit entry its success writes; and
// read by the API description (openapi/): what it takes and answers.
// Declared beside the handler, so adding a route never means editing a central table; a route that
// declares no access needs `admin` (fail closed).
import type { Permission } from '../../store/ports/api-keys.ts';
import type { AuditEventType } from '../features/audit/event-types.ts';
import type { QuotaDimension } from '../features/quotas/quotas.ts';
import type { RouteDoc } from './openapi/route-doc.ts';

/** An API route's caller: anyone (`open`), a key with this permission, or (federation listener) a peer. */
export type RouteAccess = Permission | 'open' | 'peer';

export interface AuditOnSuccess {
  /** The success status that writes the entry (e.g. 201 for a created fact, not the idempotent 200). */
  status: number;
  event: AuditEventType;
  /** The entry's detail from the response body: ids, URIs and fingerprints only, never secrets. */
  detail(body: Record<string, unknown>): Record<string, unknown>;
  /**
   * The handler writes this entry itself, in the transaction of the action it records (so both commit or
   * neither): the listener's audit trail leaves it alone. Declared all the same for the API description.
   */
  inTransaction?: true;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    access?: RouteAccess;
    quota?: QuotaDimension;
    audit?: AuditOnSuccess;
    /** The route's entry in the OpenAPI description; a route without one fails test/node/openapi.test.ts. */
    openapi?: RouteDoc;
  }
}

/** What a request needs: the route's access, `admin` when it declares none, `authenticated` on a 404. */
export function accessOf(request: {
  is404: boolean;
  routeOptions: { config: { access?: RouteAccess } };
}): RouteAccess | 'authenticated' {
  if (request.is404) return 'authenticated';
  return request.routeOptions.config.access ?? 'admin';
}
