// GET /openapi.json (this listener), GET /openapi/federation.json (the federation listener) and GET /docs
// (both, as a page), on the API listener. Open, like /.well-known/tessera: they describe the protocol and
// the node's version, nothing a caller could not learn by calling it; they are built once and cached.
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { NodeError } from '../../errors.ts';
import { DOCS_PAGE_CSP } from '../../http/openapi/docs-page.ts';
import type { OpenApiDocument } from '../../http/openapi/document.ts';
import { describeRoute } from '../../http/openapi/route-doc.ts';

export const OPENAPI_PATH = '/openapi.json';
export const FEDERATION_OPENAPI_PATH = '/openapi/federation.json';
export const DOCS_PATH = '/docs';

/** The outline of an OpenAPI 3.1 document (its parts are described by the OpenAPI specification). */
const openapiDocumentSchema = z.looseObject({
  openapi: z.literal('3.1.0'),
  info: z.looseObject({ title: z.string(), version: z.string() }),
  servers: z.array(z.looseObject({ url: z.string() })),
  paths: z.record(z.string(), z.record(z.string(), z.looseObject({}))),
  components: z.looseObject({}),
});

const TAG = 'docs';

export interface ApiDocsRouteDeps {
  api(): OpenApiDocument;
  /** Null when the node runs without a federation listener. */
  federation(): OpenApiDocument | null;
  page(): string;
}

const OPEN = { access: 'open' } as const;

export function registerApiDocsRoutes(app: FastifyInstance, deps: ApiDocsRouteDeps): void {
  app.get(
    OPENAPI_PATH,
    {
      config: {
        ...OPEN,
        openapi: describeRoute({
          tag: TAG,
          summary: "This listener's OpenAPI 3.1 document",
          responses: { 200: { description: 'The document (this one).', schema: openapiDocumentSchema } },
        }),
      },
    },
    async (_request, reply) => {
      reply.header('cache-control', 'max-age=60');
      return deps.api();
    },
  );

  app.get(
    FEDERATION_OPENAPI_PATH,
    {
      config: {
        ...OPEN,
        openapi: describeRoute({
          tag: TAG,
          summary: "The federation listener's OpenAPI 3.1 document",
          description:
            'What peers call on the federation listener (mutual TLS, peer tokens); its server is the ' +
            "node's advertised federation URL. Served here because the federation listener only admits peers.",
          responses: { 200: { description: 'The document.', schema: openapiDocumentSchema } },
          errors: ['not_found'],
        }),
      },
    },
    async (_request, reply) => {
      const document = deps.federation();
      if (!document)
        throw new NodeError(
          'not_found',
          'this node has no federation listener (TESSERA_FEDERATION_ENABLED=false)',
        );
      reply.header('cache-control', 'max-age=60');
      return document;
    },
  );

  app.get(
    DOCS_PATH,
    {
      config: {
        ...OPEN,
        openapi: describeRoute({
          tag: TAG,
          summary: 'The API description as a page',
          description:
            'Every operation of both listeners with its schemas and examples; no script, no external asset.',
          responses: {
            200: {
              description: 'An HTML page.',
              contentType: 'text/html',
              headers: { 'content-security-policy': 'Allows nothing but the page’s own inline style.' },
            },
          },
        }),
      },
    },
    async (_request, reply) =>
      reply
        .header('content-type', 'text/html; charset=utf-8')
        .header('content-security-policy', DOCS_PAGE_CSP)
        .header('x-content-type-options', 'nosniff')
        .header('referrer-policy', 'no-referrer')
        .header('cache-control', 'no-cache')
        .send(deps.page()),
  );
}
