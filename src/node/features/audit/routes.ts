// GET /v1/admin/audit?event_type&principal&since&until&cursor&limit → {entries, total, cursor}.
// Who may read is not decided here: the node's auth hook requires the audit.read permission (403
// `audit.read capability required` otherwise). Each entry is the stored one (its hash covers exactly
// those fields) plus `entity_uri`, the principal under Stigmem's name, which its tutorial's jq reads;
// `total` counts every entry matching the filter, not only this page.
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { AuditStore } from '../../../store/ports/audit.ts';
import { component } from '../../http/openapi/components.ts';
import { describeRoute } from '../../http/openapi/route-doc.ts';
import { AUDIT_DEFAULT_LIMIT, AUDIT_MAX_LIMIT, auditQuerySchema, parseAuditQuery } from './query.ts';

export const AUDIT_ROUTE = '/v1/admin/audit';

const hash = z.string().regex(/^[0-9a-f]{64}$/);
const auditEntrySchema = component(
  'AuditEntry',
  z.strictObject({
    seq: z.number().int().positive(),
    ts: z.string().meta({ format: 'date-time' }),
    event_type: z.string(),
    principal: z.string().nullable(),
    detail: z.record(z.string(), z.unknown()),
    prev_hash: hash,
    hash: hash.meta({ description: 'SHA-256 of the JCS form of the other fields except `entity_uri`.' }),
    entity_uri: z.string().nullable().meta({ description: 'The principal, under Stigmem’s name.' }),
  }),
);

const exampleEntry = {
  seq: 7,
  ts: '2026-05-01T10:00:00.000Z',
  event_type: 'fact_write',
  principal: 'spiffe://example.org/agent/x',
  detail: {
    id: 'd07bbd11-1a91-81a9-af9d-2dc5f2a566b3',
    entity: 'acme:site/1',
    relation: 'status',
    scope: 'company',
  },
  prev_hash: 'a'.repeat(64),
  hash: 'b'.repeat(64),
  entity_uri: 'spiffe://example.org/agent/x',
};

const readAuditDoc = describeRoute({
  tag: 'audit',
  summary: 'Read the audit log',
  description:
    `Entries oldest first, filtered by event type, principal and a \`since\` (inclusive) / \`until\` ` +
    `(exclusive) time window; pages of \`limit\` (1–${AUDIT_MAX_LIMIT}, default ${AUDIT_DEFAULT_LIMIT}). ` +
    'Needs `audit.read` (not implied by `admin`). `tessera audit verify` checks the chain.',
  query: auditQuerySchema,
  responses: {
    200: {
      description: 'One page; `total` counts every matching entry.',
      schema: z.strictObject({
        entries: z.array(auditEntrySchema),
        total: z.number().int().nonnegative(),
        cursor: z.string().nullable(),
      }),
      example: { entries: [exampleEntry], total: 1, cursor: null },
    },
  },
  errors: ['invalid_cursor', 'store_unavailable'],
  examples: {
    factWrites: {
      summary: 'Fact writes since a time, 20 at a time',
      query: { event_type: 'fact_write', since: '2026-01-01T00:00:00Z', limit: '20' },
    },
    byPrincipal: {
      summary: 'What one key’s holder did',
      query: { principal: 'spiffe://example.org/agent/x' },
    },
  },
});

export interface AuditRouteDeps {
  store: Pick<AuditStore, 'listAudit'>;
}

export function registerAuditRoutes(app: FastifyInstance, deps: AuditRouteDeps): void {
  app.get(
    AUDIT_ROUTE,
    { config: { access: 'audit.read', quota: 'admin', openapi: readAuditDoc } },
    async (request) => {
      const { filter, limit, cursor } = parseAuditQuery(request.query);
      const page = await deps.store.listAudit(filter, limit, cursor);
      return {
        entries: page.entries.map((entry) => ({ ...entry, entity_uri: entry.principal })),
        total: page.total,
        cursor: page.cursor,
      };
    },
  );
}
