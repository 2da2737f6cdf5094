// The document builder on its own, from hand-made route lists: what follows from a route's access, quota,
// audit entry and inputs; the client-certificate scheme of an mTLS API listener; components included only
// when used; and the mistakes it refuses to paper over (a schema zod cannot describe, a recursive schema
// that is not a component, a declared answer on an error's status).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { z } from 'zod';
import { component, describedAs } from '../../../src/node/http/openapi/components.ts';
import { buildOpenApiDocument, type RegisteredRoute } from '../../../src/node/http/openapi/document.ts';
import { describeRoute } from '../../../src/node/http/openapi/route-doc.ts';

type Json = Record<string, unknown>;

const thing = component('TestThing', z.strictObject({ name: z.string() }));
component('TestUnused', z.strictObject({ other: z.number() }));

const route = (method: string, url: string, config: RegisteredRoute['config']): RegisteredRoute => ({
  method,
  url,
  config,
});
const ok = { 200: { description: 'ok', schema: thing } };

function build(routes: RegisteredRoute[], clientCertificate = false) {
  return buildOpenApiDocument({
    listener: 'api',
    version: '1.2.3',
    routes,
    servers: [{ url: '/', description: 'here' }],
    clientCertificate,
  });
}

const operation = (doc: ReturnType<typeof build>, path: string, method: string) =>
  doc.paths[path]?.[method] as Json & { responses: Record<string, Json> };
const codesOf = (op: { responses: Record<string, Json> }, status: number) =>
  (
    (
      (((op.responses[String(status)] as Json).content as Json)['application/json'] as Json).schema as {
        allOf: Json[];
      }
    ).allOf[1] as { properties: { error: { enum: string[] } } }
  ).properties.error.enum;

describe('buildOpenApiDocument', () => {
  test('error responses follow from access, quota, audit entry and inputs, grouped by catalog status', () => {
    const doc = build([
      route('POST', '/things/:id', {
        access: 'write',
        quota: 'fact_write',
        audit: { status: 200, event: 'fact_write', detail: () => ({}) },
        openapi: describeRoute({
          tag: 't',
          summary: 's',
          params: z.strictObject({ id: z.string() }),
          body: z.strictObject({ name: z.string() }),
          responses: ok,
          errors: ['not_found'],
          examples: { one: { summary: 'one', params: { id: 'x' }, body: { name: 'n' } } },
        }),
      }),
      route('GET', '/open', {
        access: 'open',
        openapi: describeRoute({ tag: 't', summary: 's', responses: ok }),
      }),
    ]);
    const op = operation(doc, '/things/{id}', 'post');
    assert.deepEqual(Object.keys(op.responses), [
      '200',
      '400',
      '401',
      '403',
      '404',
      '413',
      '414',
      '415',
      '422',
      '429',
      '500',
      '503',
    ]);
    assert.deepEqual(codesOf(op, 429), ['too_many_auth_failures', 'quota_exceeded']);
    assert.deepEqual(codesOf(op, 500), ['internal', 'audit_write_failed']);
    assert.deepEqual(codesOf(op, 400), ['bad_request', 'invalid_json']);
    assert.equal(op['x-tessera-quota'], 'fact_write');
    assert.equal(op['x-tessera-audit'], 'fact_write');
    assert.deepEqual(op.security, [{ apiKey: ['write'] }]);
    assert.deepEqual(Object.keys(operation(doc, '/open', 'get').responses), ['200', '400', '500']);
    assert.deepEqual(operation(doc, '/open', 'get').security, []);
  });

  test('an mTLS API listener adds the client-certificate scheme to every operation', () => {
    const doc = build(
      [
        route('GET', '/open', {
          access: 'open',
          openapi: describeRoute({ tag: 't', summary: 's', responses: ok }),
        }),
        route('GET', '/keyed', {
          access: 'read',
          openapi: describeRoute({ tag: 't', summary: 's', responses: ok }),
        }),
      ],
      true,
    );
    assert.equal((doc.components.securitySchemes.clientCertificate as Json).type, 'mutualTLS');
    assert.deepEqual(operation(doc, '/open', 'get').security, [{ clientCertificate: [] }]);
    assert.deepEqual(operation(doc, '/keyed', 'get').security, [{ apiKey: ['read'], clientCertificate: [] }]);
  });

  test('only the components a response uses are listed; a rewrite replaces what zod generates', () => {
    const loose = describedAs(z.string(), (generated) => ({ anyOf: [generated, { type: 'number' }] }));
    const doc = build([
      route('POST', '/t', {
        access: 'open',
        openapi: describeRoute({
          tag: 't',
          summary: 's',
          body: z.strictObject({ v: loose }),
          responses: ok,
          examples: { e: { summary: 'e', body: { v: 'x' } } },
        }),
      }),
    ]);
    assert.ok('TestThing' in doc.components.schemas);
    assert.ok(!('TestUnused' in doc.components.schemas));
    const body = ((operation(doc, '/t', 'post').requestBody as Json).content as Json)[
      'application/json'
    ] as Json;
    // zod folds the alternatives into one type list: the rewrite's `number` is there.
    assert.deepEqual((body.schema as { properties: Json }).properties.v, { type: ['string', 'number'] });
  });

  test('refuses what it cannot describe truthfully', () => {
    const one = (doc: Parameters<typeof describeRoute>[0]) => [
      route('GET', '/x', { access: 'open', openapi: describeRoute(doc) }),
    ];
    assert.throws(
      () =>
        build(
          one({
            tag: 't',
            summary: 's',
            responses: { 200: { description: 'd', schema: z.string().transform((s) => s.length) } },
          }),
        ),
      /Transforms cannot be represented/,
    );
    type Tree = { children: Tree[] };
    const tree: z.ZodType<Tree> = z.lazy(() => z.object({ children: z.array(tree) }));
    assert.throws(
      () => build(one({ tag: 't', summary: 's', responses: { 200: { description: 'd', schema: tree } } })),
      /must be a component/,
    );
    assert.throws(
      () => build(one({ tag: 't', summary: 's', responses: { 500: { description: 'mine' } } })),
      /GET \/x: status 500 is both a declared response and an error/,
    );
  });
});
