// One listener's OpenAPI 3.1 document, built from the routes registered on it and what each declares in its
// config: `openapi` (summary, schemas, responses, examples), `access` (the security requirement),
// `quota` and `audit`. Routes without a description are left out (and fail test/node/openapi.test.ts).
import type { FastifyContextConfig } from 'fastify';
import type { z } from 'zod';
import type { RouteAccess } from '../route-config.ts';
import type { JsonSchema } from './components.ts';
import { errorBodySchema, errorCodesOf, errorResponses, type Listener } from './errors.ts';
import { type ConvertedSchemas, convertSchemas } from './json-schema.ts';
import type { RequestExample, RouteDoc } from './route-doc.ts';

/** A route as fastify's onRoute hook saw it. */
export interface RegisteredRoute {
  method: string;
  /** Fastify's path, e.g. `/v1/facts/:id`. */
  url: string;
  config: FastifyContextConfig;
}

export interface DocumentSpec {
  listener: Listener;
  /** The node's version. */
  version: string;
  routes: readonly RegisteredRoute[];
  servers: { url: string; description: string }[];
  /** API listener with TESSERA_API_TLS=mtls: every request also needs a client certificate of the CA bundle. */
  clientCertificate?: boolean;
}

export interface OpenApiDocument {
  openapi: '3.1.0';
  info: {
    title: string;
    version: string;
    description: string;
    license: { name: string; identifier: string };
  };
  servers: { url: string; description: string }[];
  tags: { name: string }[];
  paths: Record<string, Record<string, JsonSchema>>;
  components: { schemas: Record<string, JsonSchema>; securitySchemes: Record<string, JsonSchema> };
}

const TITLES: Record<Listener, { title: string; description: string }> = {
  api: {
    title: 'Tessera node API',
    description:
      "The node's API listener: facts, administration (API keys, peers, audit log, capabilities), health, " +
      'metrics and its public identity. Errors are `{error, detail}` with a stable code from the error catalog.',
  },
  federation: {
    title: 'Tessera federation API',
    description:
      "The node's federation listener, for peers only: mutual TLS with a certificate of the node's CA bundle " +
      'carrying a URI SAN, and on `/v1/federation/*` a single-use EdDSA peer token whose issuer is that URI SAN ' +
      'and which an approved peer signed. Errors are `{error, detail}` with a stable code from the error catalog.',
  },
};

const SECURITY_SCHEMES: Record<Listener, Record<string, JsonSchema>> = {
  api: {
    apiKey: {
      type: 'http',
      scheme: 'bearer',
      description:
        'An API key: a managed key `tsk_<id>_<secret>` (`tessera keys create`, `POST /v1/admin/api-keys`) or ' +
        'the static `TESSERA_API_KEY`. The scopes listed on an operation are the permission the key needs. ' +
        'With `TESSERA_AUTH_REQUIRED=false` (loopback only) no key is asked for.',
    },
    clientCertificate: {
      type: 'mutualTLS',
      description: 'With `TESSERA_API_TLS=mtls`: a client certificate chaining to the node CA bundle.',
    },
  },
  federation: {
    mutualTLS: {
      type: 'mutualTLS',
      description:
        "A client certificate chaining to the node's CA bundle with the peer's entity URI as URI SAN; " +
        'revoked peers are refused at the handshake.',
    },
    peerToken: {
      type: 'http',
      scheme: 'bearer',
      bearerFormat: 'JWT',
      description:
        'An EdDSA JWT signed by the peer node key: `iss` = the certificate URI SAN, `aud` = this node, ' +
        'at most 5 minutes, `jti` never reused. The peer must be approved on this node.',
    },
  },
};

/** The OpenAPI path of a fastify path: `/v1/facts/:id` → `/v1/facts/{id}`. */
export function openapiPath(url: string): string {
  return url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
}

/** Routes fastify added by itself: the HEAD twin of every GET. */
function isImplicitHead(route: RegisteredRoute, all: readonly RegisteredRoute[]): boolean {
  return route.method === 'HEAD' && all.some((other) => other.method === 'GET' && other.url === route.url);
}

export function buildOpenApiDocument(spec: DocumentSpec): OpenApiDocument {
  const described = spec.routes
    .filter((route) => !isImplicitHead(route, spec.routes))
    .flatMap((route) => (route.config.openapi ? [{ ...route, doc: route.config.openapi }] : []));
  const schemas = convertSchemas(
    described.flatMap(({ doc }) => [doc.params, doc.query, doc.body].filter(isSchema)),
    [
      errorBodySchema,
      ...described.flatMap(({ doc }) => Object.values(doc.responses).map((r) => r.schema)),
    ].filter(isSchema),
  );
  const paths: OpenApiDocument['paths'] = {};
  const tags: string[] = [];
  for (const route of [...described].sort((a, b) => a.url.localeCompare(b.url))) {
    const path = openapiPath(route.url);
    paths[path] ??= {};
    (paths[path] as Record<string, JsonSchema>)[route.method.toLowerCase()] = operation(spec, route, schemas);
    if (!tags.includes(route.doc.tag)) tags.push(route.doc.tag);
  }
  const schemes = { ...SECURITY_SCHEMES[spec.listener] };
  if (spec.listener === 'api' && !spec.clientCertificate) delete schemes.clientCertificate;
  return {
    openapi: '3.1.0',
    info: {
      ...TITLES[spec.listener],
      version: spec.version,
      license: { name: 'Apache-2.0', identifier: 'Apache-2.0' },
    },
    servers: spec.servers,
    tags: tags.sort().map((name) => ({ name })),
    paths,
    components: { schemas: schemas.components, securitySchemes: schemes },
  };
}

function isSchema(value: z.ZodType | undefined): value is z.ZodType {
  return value !== undefined;
}

function operation(
  spec: DocumentSpec,
  route: RegisteredRoute & { doc: RouteDoc },
  schemas: ConvertedSchemas,
): JsonSchema {
  const { doc, config } = route;
  const access: RouteAccess = config.access ?? 'admin';
  const examples = Object.entries(doc.examples ?? {});
  const parameters = [
    ...parametersOf('path', doc.params, schemas, examples, 'params'),
    ...parametersOf('query', doc.query, schemas, examples, 'query'),
  ];
  const success: Record<string, JsonSchema> = {};
  for (const [status, response] of Object.entries(doc.responses)) {
    const contentType = response.contentType ?? 'application/json';
    const body = response.schema
      ? schemas.response(response.schema)
      : response.contentType
        ? { type: 'string' }
        : null;
    success[status] = {
      description: response.description,
      ...(response.headers
        ? {
            headers: Object.fromEntries(
              Object.entries(response.headers).map(([name, description]) => [
                name,
                { description, schema: { type: 'string' } },
              ]),
            ),
          }
        : {}),
      ...(body
        ? {
            content: {
              [contentType]: {
                schema: body,
                ...(response.example !== undefined ? { example: response.example } : {}),
              },
            },
          }
        : {}),
    };
  }
  const errors = errorResponses(
    errorCodesOf({
      listener: spec.listener,
      access,
      quota: config.quota !== undefined,
      audited: config.audit !== undefined,
      doc,
    }),
    schemas.response(errorBodySchema),
  );
  for (const status of Object.keys(errors))
    if (status in success)
      throw new Error(
        `${route.method} ${route.url}: status ${status} is both a declared response and an error`,
      );
  const bodyExamples = examples.filter(([, example]) => example.body !== undefined);
  return {
    operationId: operationId(route.method, openapiPath(route.url)),
    summary: doc.summary,
    ...(doc.description ? { description: doc.description } : {}),
    tags: [doc.tag],
    ...(parameters.length > 0 ? { parameters } : {}),
    ...(doc.body
      ? {
          requestBody: {
            // Routes read an absent body as `{}`: it is required only when `{}` is not a valid one.
            required: !doc.body.safeParse({}).success,
            content: {
              'application/json': {
                schema: schemas.request(doc.body),
                ...(bodyExamples.length > 0
                  ? {
                      examples: Object.fromEntries(
                        bodyExamples.map(([name, example]) => [
                          name,
                          { summary: example.summary, value: example.body },
                        ]),
                      ),
                    }
                  : {}),
              },
            },
          },
        }
      : {}),
    responses: { ...success, ...errors },
    security: security(spec, access),
    'x-tessera-access': access,
    ...(config.quota ? { 'x-tessera-quota': config.quota } : {}),
    ...(config.audit ? { 'x-tessera-audit': config.audit.event } : {}),
  };
}

/** Path or query parameters: one per property of the (object) schema, with the examples that set it. */
function parametersOf(
  where: 'path' | 'query',
  schema: z.ZodType | undefined,
  schemas: ConvertedSchemas,
  examples: [string, RequestExample][],
  part: 'params' | 'query',
): JsonSchema[] {
  if (!schema) return [];
  const json = schemas.request(schema);
  const properties = (json.properties ?? {}) as Record<string, JsonSchema>;
  const required = new Set((json.required ?? []) as string[]);
  return Object.entries(properties).map(([name, property]) => {
    const { description, ...rest } = property;
    const given = examples.flatMap(([key, example]) => {
      const values = example[part] as Record<string, unknown> | undefined;
      return values && values[name] !== undefined
        ? [[key, { summary: example.summary, value: values[name] }]]
        : [];
    });
    return {
      name,
      in: where,
      required: where === 'path' || required.has(name),
      ...(description ? { description } : {}),
      schema: rest,
      ...(given.length > 0 ? { examples: Object.fromEntries(given) } : {}),
    };
  });
}

function security(spec: DocumentSpec, access: RouteAccess): JsonSchema[] {
  if (spec.listener === 'federation')
    return [access === 'open' ? { mutualTLS: [] } : { mutualTLS: [], peerToken: [] }];
  const certificate = spec.clientCertificate ? { clientCertificate: [] } : {};
  if (access === 'open') return spec.clientCertificate ? [certificate] : [];
  // On the API listener a peer route is an admin's (auth-hook.ts).
  return [{ apiKey: [access === 'peer' ? 'admin' : access], ...certificate }];
}

/** `GET /v1/facts/{id}` → `getV1FactsById`. */
function operationId(method: string, path: string): string {
  const words = path
    .split('/')
    .filter(Boolean)
    .flatMap((segment) => {
      const param = /^\{(.+)\}$/.exec(segment)?.[1];
      return param ? ['by', ...param.split(/[^A-Za-z0-9]+/)] : segment.split(/[^A-Za-z0-9]+/);
    })
    .filter(Boolean);
  return [method.toLowerCase(), ...words.map((word) => word[0]?.toUpperCase() + word.slice(1))].join('');
}
