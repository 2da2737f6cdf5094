// Writes the audit entries of successful API actions (fact writes, peer changes) from the response the
// route produced, with the principal the auth hook established. Secrets never reach here: the entries
// carry ids, URIs and fingerprints only.
import type { FastifyInstance } from 'fastify';
import type { AuditLog } from '../audit/audit-log.ts';
import type { AuditEventType } from '../audit/event-types.ts';

interface Rule {
  status: number;
  event: AuditEventType;
  detail(body: Record<string, unknown>): Record<string, unknown>;
}

const peerDetail = (body: Record<string, unknown>) => ({
  peer_id: body.id,
  entity_uri: body.entity_uri,
  fingerprint: body.fingerprint,
  status: body.status,
  allowed_scopes: body.allowed_scopes,
});

const RULES: Record<string, Rule> = {
  'POST /v1/facts': {
    status: 201,
    event: 'fact_write',
    detail: (b) => ({ id: b.id, cid: b.cid, entity: b.entity, relation: b.relation, scope: b.scope }),
  },
  'POST /v1/admin/peers': { status: 201, event: 'peer_added', detail: peerDetail },
  'POST /v1/admin/peers/:id/approve': { status: 200, event: 'peer_approved', detail: peerDetail },
  'POST /v1/admin/peers/:id/revoke': { status: 200, event: 'peer_revoked', detail: peerDetail },
};

export function installAuditTrail(app: FastifyInstance, audit: AuditLog): void {
  app.addHook('preSerialization', async (request, reply, payload) => {
    const rule = RULES[`${request.method} ${request.routeOptions.url}`];
    if (rule && reply.statusCode === rule.status && payload && typeof payload === 'object')
      // Awaited: the response is sent only once its audit entry is written (or the failure is counted).
      await audit.note(
        rule.event,
        request.principal?.entityUri ?? null,
        rule.detail(payload as Record<string, unknown>),
      );
    return payload;
  });
}
