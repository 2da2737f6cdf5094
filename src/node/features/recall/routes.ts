// POST /v1/recall (Stigmem's recall): a read, with the same permission and quota as GET /v1/facts.
import type { FastifyInstance } from 'fastify';
import { requireJson } from '../../http/require-json.ts';
import { recallDoc } from './openapi.ts';
import { parseRecallInput, parseVerifyHeader, RECALL_BODY_LIMIT, VERIFY_HEADER } from './schema.ts';
import type { RecallService } from './service.ts';

export function registerRecallRoutes(app: FastifyInstance, service: RecallService): void {
  app.post(
    '/v1/recall',
    {
      bodyLimit: RECALL_BODY_LIMIT,
      onRequest: requireJson,
      config: { access: 'read', quota: 'fact_read', openapi: recallDoc },
    },
    async (request) => {
      const withProofs = parseVerifyHeader(request.headers[VERIFY_HEADER]);
      return await service.recall(parseRecallInput(request.body), withProofs);
    },
  );
}
