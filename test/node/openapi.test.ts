// The API description (issue 13): every route registered on either listener is in its OpenAPI 3.1
// document, named by method and path when it is not; the documents are structurally valid; every example
// passes the zod schema the route validates with; every documented error is the catalog's; the refusals a
// route really gives are the ones it documents; and /docs is a self-contained page under a strict CSP.
// The examples are sent to real nodes in openapi-examples.test.ts.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import type { Feature } from '../../src/node/app/feature.ts';
import { ERROR_CATALOG, type ErrorCode } from '../../src/node/errors.ts';
import { errorBodySchema } from '../../src/node/http/openapi/errors.ts';
import type { RouteDoc } from '../../src/node/http/openapi/route-doc.ts';
import { bearer, manualClock, type NodeApp, startNodeApp } from '../support/node-app.ts';
import { openapiProblems } from '../support/openapi-check.ts';
import {
  callableRoutes,
  type RecordedRoute,
  routeRecorder,
  templatedPath,
} from '../support/route-recorder.ts';

type Json = Record<string, unknown>;
type Operation = Json & { responses: Record<string, Json>; security: Json[]; parameters?: Json[] };

const ADMIN_KEY = 'openapi-test-static-admin-key-0123456789';

describe('the API description', () => {
  let node: NodeApp;
  let routes: RecordedRoute[];
  const documents: Record<
    RecordedRoute['listener'],
    Json & { paths: Record<string, Record<string, Operation>> }
  > = {} as never;

  before(async () => {
    const recorder = routeRecorder();
    node = await startNodeApp({
      clock: manualClock().clock,
      env: { TESSERA_API_KEY: ADMIN_KEY },
      features: [recorder.feature],
    });
    routes = callableRoutes(recorder.routes);
    for (const [listener, url] of [
      ['api', '/openapi.json'],
      ['federation', '/openapi/federation.json'],
    ] as const) {
      const response = await node.app.inject({ method: 'GET', url });
      assert.equal(response.statusCode, 200, `${url}: ${response.body}`);
      documents[listener] = response.json();
    }
  });
  after(() => node?.close());

  const operationOf = (route: RecordedRoute): Operation | undefined =>
    documents[route.listener].paths[templatedPath(route.url)]?.[route.method.toLowerCase()];

  test('every route registered on either listener is described (named when it is not), and nothing else', () => {
    assert.ok(
      routes.some((r) => r.listener === 'federation'),
      'the federation listener was recorded too',
    );
    const missing = undescribedRoutes(routes, documents);
    assert.deepEqual(missing, [], `routes without an OpenAPI description: ${missing.join(', ')}`);
    for (const listener of ['api', 'federation'] as const) {
      const documented = Object.entries(documents[listener].paths).flatMap(([path, item]) =>
        Object.keys(item).map((method) => `${method.toUpperCase()} ${path}`),
      );
      const registered = routes
        .filter((route) => route.listener === listener)
        .map((route) => `${route.method} ${templatedPath(route.url)}`);
      assert.deepEqual(documented.sort(), registered.sort(), `${listener}: documented = registered`);
    }
  });

  test('a route registered without a description is named by listener, method and path', async () => {
    const recorder = routeRecorder();
    const bare: Feature = {
      name: 'undescribed',
      api: async (app) => {
        app.post('/v1/undescribed', { config: { access: 'read' } }, async () => ({}));
      },
      federation: async (app) => {
        app.get('/v1/federation/undescribed/:id', { config: { access: 'peer' } }, async () => ({}));
      },
    };
    const other = await startNodeApp({ clock: manualClock().clock, features: [recorder.feature, bare] });
    try {
      const docs = {
        api: (await other.app.inject({ method: 'GET', url: '/openapi.json' })).json(),
        federation: (await other.app.inject({ method: 'GET', url: '/openapi/federation.json' })).json(),
      };
      assert.deepEqual(undescribedRoutes(callableRoutes(recorder.routes), docs).sort(), [
        'api: POST /v1/undescribed',
        'federation: GET /v1/federation/undescribed/:id',
      ]);
    } finally {
      await other.close();
    }
  });

  test('both documents are structurally valid OpenAPI 3.1, versioned like the package', async () => {
    const pkg = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8'));
    for (const listener of ['api', 'federation'] as const) {
      const document = documents[listener];
      assert.deepEqual(openapiProblems(document), [], listener);
      assert.equal((document.info as Json).version, pkg.version, `${listener}: info.version`);
    }
    assert.deepEqual(documents.api.servers, [{ url: '/', description: "this node's API listener" }]);
    const [federationServer] = documents.federation.servers as { url: string }[];
    assert.equal(
      federationServer?.url,
      node.node.federationUrl,
      'the federation document names the advertised URL',
    );
  });

  test('the structural check finds what it is for (it can fail)', () => {
    const broken = structuredClone(documents.api);
    const item = broken.paths['/v1/facts/{id}'] as Record<string, Operation>;
    (item.get as Operation).parameters = [];
    (item.get as Operation).responses['200'] = {
      description: 'x',
      content: { 'application/json': { schema: { $ref: '#/components/schemas/Nope' } } },
    };
    (item.get as Operation).security = [{ nobody: [] }];
    const problems = openapiProblems(broken);
    assert.ok(
      problems.some((p) => p.includes('{id} has no path parameter')),
      problems.join('\n'),
    );
    assert.ok(
      problems.some((p) => p.includes('#/components/schemas/Nope does not resolve')),
      problems.join('\n'),
    );
    assert.ok(
      problems.some((p) => p.includes('undeclared scheme nobody')),
      problems.join('\n'),
    );
  });

  test('security follows each route’s access: bearer key with its permission on the API, mTLS (+ peer token) on federation', () => {
    assert.deepEqual(Object.keys((documents.api.components as Json).securitySchemes as Json), ['apiKey']);
    const federationSchemes = (documents.federation.components as Json).securitySchemes as Record<
      string,
      Json
    >;
    assert.equal(federationSchemes.mutualTLS?.type, 'mutualTLS');
    assert.equal(federationSchemes.peerToken?.scheme, 'bearer');
    for (const route of routes) {
      const op = operationOf(route) as Operation;
      const access = route.config.access ?? 'admin';
      const expected =
        route.listener === 'federation'
          ? [access === 'open' ? { mutualTLS: [] } : { mutualTLS: [], peerToken: [] }]
          : access === 'open'
            ? []
            : [{ apiKey: [access === 'peer' ? 'admin' : access] }];
      assert.deepEqual(op.security, expected, `${route.method} ${route.url}`);
      assert.equal(op['x-tessera-access'], access);
    }
  });

  test('every error response is {error, detail} with codes of the catalog that carry that status', () => {
    for (const route of routes) {
      const op = operationOf(route) as Operation;
      for (const [status, response] of Object.entries(op.responses).filter(([s]) => Number(s) >= 400)) {
        const at = `${route.method} ${route.url} ${status}`;
        const media = (response.content as Json)['application/json'] as Json;
        if (route.config.openapi?.responses[Number(status)]) continue; // a declared non-error answer (/readyz 503)
        const [ref, narrowed] = (media.schema as { allOf: Json[] }).allOf as [Json, Json];
        assert.equal(ref.$ref, '#/components/schemas/Error', at);
        const codes = ((narrowed.properties as Json).error as { enum: ErrorCode[] }).enum;
        assert.ok(codes.length > 0, at);
        for (const code of codes) assert.equal(ERROR_CATALOG[code]?.http, Number(status), `${at}: ${code}`);
        assert.ok(errorBodySchema.safeParse(media.example).success, `${at}: example`);
        assert.ok(codes.includes((media.example as { error: ErrorCode }).error), `${at}: example code`);
      }
    }
  });

  test('every example passes the zod schema the route validates with', () => {
    let checked = 0;
    for (const route of routes) {
      const doc = route.config.openapi as RouteDoc;
      const at = `${route.listener} ${route.method} ${route.url}`;
      for (const [name, example] of Object.entries(doc.examples ?? {})) {
        for (const part of ['params', 'query', 'body'] as const) {
          const given = example[part];
          const schema = doc[part];
          if (given === undefined) continue;
          assert.ok(schema, `${at} example ${name}: gives ${part} the route does not describe`);
          const parsed = schema.safeParse(given);
          assert.ok(parsed.success, `${at} example ${name} ${part}: ${parsed.error?.message}`);
          checked++;
        }
      }
      for (const [status, response] of Object.entries(doc.responses)) {
        if (response.example === undefined) continue;
        assert.ok(response.schema, `${at} ${status}: an example without a schema`);
        const parsed = response.schema.safeParse(response.example);
        assert.ok(parsed.success, `${at} ${status} example: ${parsed.error?.message}`);
        checked++;
      }
      if (doc.body || doc.params)
        assert.ok(
          Object.keys(doc.examples ?? {}).length > 0,
          `${at}: a route with a body or path parameters has an example`,
        );
    }
    assert.ok(checked > 30, `${checked} examples checked`);
  });

  test('the request examples are in the document as given', () => {
    const op = documents.api.paths['/v1/facts']?.post as Operation;
    const examples = (((op.requestBody as Json).content as Json)['application/json'] as Json)
      .examples as Record<string, Json>;
    const doc = routes.find((r) => r.method === 'POST' && r.url === '/v1/facts')?.config.openapi as RouteDoc;
    for (const [name, example] of Object.entries(doc.examples ?? {}))
      assert.deepEqual(examples[name]?.value, example.body, name);
  });

  test('a request without credentials is refused the way each route documents', async () => {
    for (const route of routes.filter((r) => (r.config.access ?? 'admin') !== 'open')) {
      const app = route.listener === 'api' ? node.app : (node.node.federation as FastifyInstance);
      const response = await app.inject({
        method: route.method as 'GET',
        url: route.url.replace(/:[A-Za-z0-9_]+/g, 'x'),
      });
      const code = route.listener === 'api' ? 'unauthorized' : 'token_missing';
      assert.equal(response.statusCode, 401, `${route.method} ${route.url}`);
      assert.equal(response.json().error, code);
      assertDocumented(
        operationOf(route) as Operation,
        response.statusCode,
        response.json(),
        `${route.method} ${route.url}`,
      );
    }
  });

  test('a body with an unknown field is refused as documented (422 validation_failed)', async () => {
    for (const route of routes.filter((r) => r.listener === 'api' && r.config.openapi?.body)) {
      const response = await node.app.inject({
        method: route.method as 'POST',
        url: route.url.replace(/:[A-Za-z0-9_]+/g, 'x'),
        headers: { ...bearer(ADMIN_KEY), 'content-type': 'application/json' },
        payload: { not_a_field_of_any_route: 1 },
      });
      assert.equal(response.statusCode, 422, `${route.method} ${route.url}: ${response.body}`);
      assert.equal(response.json().error, 'validation_failed');
      assertDocumented(operationOf(route) as Operation, 422, response.json(), `${route.method} ${route.url}`);
    }
  });

  test('/docs: every operation of both documents, no script, no external asset, and a CSP that allows only its own style', async () => {
    const response = await node.app.inject({ method: 'GET', url: '/docs' });
    assert.equal(response.statusCode, 200);
    assert.match(String(response.headers['content-type']), /^text\/html; charset=utf-8/);
    const csp = String(response.headers['content-security-policy']);
    const html = response.body;
    const directives = new Map(csp.split(/;\s*/).map((d) => [d.split(' ')[0], d.split(' ').slice(1)]));
    assert.deepEqual(directives.get('default-src'), ["'none'"]);
    assert.deepEqual(directives.get('frame-ancestors'), ["'none'"]);
    assert.equal(directives.has('script-src'), false, 'no script may run');
    const styles = [...html.matchAll(/<style>([\s\S]*?)<\/style>/g)].map((m) => m[1] as string);
    assert.equal(styles.length, 1);
    assert.deepEqual(directives.get('style-src'), [
      `'sha256-${createHash('sha256')
        .update(styles[0] as string)
        .digest('base64')}'`,
    ]);
    assert.equal(response.headers['x-content-type-options'], 'nosniff');
    assert.doesNotMatch(html, /<script|<link|<img|<iframe|<object|<embed|@import|\bstyle=/i);
    const references = [...html.matchAll(/\b(?:href|src|action)=["']([^"']*)["']|url\(([^)]*)\)/gi)].map(
      (m) => m[1] ?? m[2],
    );
    assert.ok(references.length > 0);
    for (const reference of references)
      assert.match(String(reference), /^(#|\/[^/])/, `a same-page or same-origin link: ${reference}`);
    for (const listener of ['api', 'federation'] as const)
      for (const item of Object.values(documents[listener].paths))
        for (const op of Object.values(item))
          assert.ok(
            html.includes(`id="${listener}-op-${op.operationId}"`),
            `${listener} ${op.operationId} on the page`,
          );
  });

  test('a single node (no federation listener) has no federation document, and says why', async () => {
    const single = await startNodeApp({
      clock: manualClock().clock,
      env: { TESSERA_FEDERATION_ENABLED: 'false' },
    });
    try {
      const response = await single.app.inject({ method: 'GET', url: '/openapi/federation.json' });
      assert.equal(response.statusCode, 404);
      assert.equal(response.json().error, 'not_found');
      assert.match(response.json().detail, /TESSERA_FEDERATION_ENABLED=false/);
      const page = await single.app.inject({ method: 'GET', url: '/docs' });
      assert.equal(page.statusCode, 200);
      assert.doesNotMatch(page.body, /id="federation"/);
    } finally {
      await single.close();
    }
  });
});

/** The recorded routes that have no description, or none in their listener's document. */
function undescribedRoutes(
  routes: readonly RecordedRoute[],
  documents: Record<RecordedRoute['listener'], { paths: Record<string, Record<string, unknown>> }>,
): string[] {
  return routes
    .filter(
      (route) =>
        !route.config.openapi ||
        !documents[route.listener].paths[templatedPath(route.url)]?.[route.method.toLowerCase()],
    )
    .map((route) => `${route.listener}: ${route.method} ${route.url}`);
}

/** The answer's status is documented for the operation and, for an error, its code is one listed there. */
function assertDocumented(op: Operation, status: number, body: { error?: string }, at: string): void {
  const response = op.responses[String(status)];
  assert.ok(response, `${at}: status ${status} is documented`);
  const schema = ((response.content as Json)['application/json'] as Json).schema as { allOf: Json[] };
  const narrowed = schema.allOf[1] as { properties: { error: { enum: string[] } } };
  const codes = narrowed.properties.error.enum;
  assert.ok(codes.includes(String(body.error)), `${at}: ${body.error} is among ${codes.join(', ')}`);
  assert.ok(errorBodySchema.safeParse(body).success, `${at}: the body is an Error`);
}
