// The Stigmem-shaped facts API: POST /v1/facts, GET /v1/facts, GET /v1/facts/{id | sha256:<hex>}.
// Authentication is not done here: the node wraps these routes in its API-key hook.
import type { FastifyInstance } from 'fastify';
import type { FactFilter, FactStore } from '../../../store/ports/facts.ts';
import { NodeError } from '../../errors.ts';
import { requireJson } from '../../http/require-json.ts';
import { CID_PATTERN } from './cid.ts';
import { assertFactDoc, getFactDoc, listFactsDoc } from './openapi.ts';
import { DEFAULT_LIMIT, MAX_ID_LENGTH, parseFactQuery } from './schema.ts';
import type { FactService } from './service.ts';

export const FACT_BODY_LIMIT = 64 * 1024;

export interface FactRouteDeps {
  service: FactService;
  store: FactStore;
}

export function registerFactRoutes(app: FastifyInstance, deps: FactRouteDeps): void {
  const { service, store } = deps;

  // A new fact → 201 with the stored record. The same content again → 200 with the record stored first
  // (its id, timestamp and hlc): asserting is idempotent, and the status tells a client nothing new was made.
  const written = {
    status: 201,
    event: 'fact_write',
    detail: (b: Record<string, unknown>) => ({
      id: b.id,
      cid: b.cid,
      entity: b.entity,
      relation: b.relation,
      scope: b.scope,
    }),
  } as const;
  app.post(
    '/v1/facts',
    {
      bodyLimit: FACT_BODY_LIMIT,
      onRequest: requireJson,
      config: { access: 'write', quota: 'fact_write', audit: written, openapi: assertFactDoc },
    },
    async (request, reply) => {
      // Stigmem clients may leave `source` out: it is then who is asserting (the API key's entity URI).
      const { record, created } = await service.assert(request.body, {
        source: request.principal?.entityUri,
      });
      if (created) reply.header('location', `/v1/facts/${encodeURIComponent(record.id)}`);
      return reply.status(created ? 201 : 200).send(record);
    },
  );

  app.get(
    '/v1/facts',
    { config: { access: 'read', quota: 'fact_read', openapi: listFactsDoc } },
    async (request) => {
      const query = parseFactQuery(request.query);
      const filter: FactFilter = {};
      if (query.entity !== undefined) filter.entity = query.entity;
      if (query.relation !== undefined) filter.relation = query.relation;
      if (query.source !== undefined) filter.source = query.source;
      if (query.scope !== undefined) filter.scope = query.scope;
      return await store.listFacts(filter, query.limit ?? DEFAULT_LIMIT, query.cursor);
    },
  );

  app.get<{ Params: { id: string } }>(
    '/v1/facts/:id',
    { config: { access: 'read', quota: 'fact_read', openapi: getFactDoc } },
    async (request) => {
      const { id } = request.params;
      if (id.startsWith('sha256:') && !CID_PATTERN.test(id))
        throw new NodeError('validation_failed', 'id: a CID must be sha256:<64 lowercase hex>');
      const record = id.length <= MAX_ID_LENGTH ? await store.getFact(id) : null;
      if (!record)
        throw new NodeError(
          'not_found',
          `no fact with id or cid ${JSON.stringify(id.slice(0, MAX_ID_LENGTH))}`,
        );
      return record;
    },
  );
}
