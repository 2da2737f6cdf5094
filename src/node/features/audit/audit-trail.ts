// Writes the audit entries of successful API actions (fact writes, peer changes) from the response the
// route produced, with the principal the auth hook established. Which routes write which entry each route
// declares in its config (`audit`, http/route-config.ts), unless the route writes it in its own transaction
// (`inTransaction`: a fact write). Secrets never reach here: the entries carry ids, URIs and fingerprints
// only.
import type { FastifyInstance } from 'fastify';
import type { AuditLog } from './audit-log.ts';
import '../../http/route-config.ts';

export function installAuditTrail(app: FastifyInstance, audit: AuditLog): void {
  app.addHook('preSerialization', async (request, reply, payload) => {
    const rule = request.is404 ? undefined : request.routeOptions.config.audit;
    if (
      rule &&
      !rule.inTransaction &&
      reply.statusCode === rule.status &&
      payload &&
      typeof payload === 'object'
    )
      // Awaited: the response is sent only once its audit entry is written (or the failure is counted).
      await audit.note(
        rule.event,
        request.principal?.entityUri ?? null,
        rule.detail(payload as Record<string, unknown>),
      );
    return payload;
  });
}
