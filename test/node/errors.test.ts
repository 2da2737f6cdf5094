// The error catalog and the route layer's mapping: each code answers with the catalog's status and the
// `{error, detail}` body; store input errors and fastify's own errors land in the same shape; an
// unexpected error is a 500 that leaks nothing.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import Fastify from 'fastify';
import { ERROR_CATALOG, httpStatusOf, isErrorCode, NodeError } from '../../src/node/errors.ts';
import { installErrorHandler, NODE_HTTP_OPTIONS } from '../../src/node/http/error-handler.ts';
import { StoreInputError } from '../../src/store/errors.ts';

async function appThrowing(error: () => unknown) {
  const app = Fastify(NODE_HTTP_OPTIONS);
  installErrorHandler(app);
  app.post('/x', async () => {
    throw error();
  });
  await app.ready();
  return app;
}

test('every catalog code has an error status and a message', () => {
  for (const [code, spec] of Object.entries(ERROR_CATALOG)) {
    assert.match(code, /^[a-z][a-z0-9_]*$/, `${code} is snake_case`);
    assert.ok(spec.http >= 400 && spec.http < 600, `${code}: ${spec.http}`);
    assert.ok(spec.message.length > 0, `${code} has a message`);
  }
  assert.equal(isErrorCode('peer_exists'), true);
  assert.equal(isErrorCode('toString'), false);
});

test('a NodeError answers with the status its code has in the catalog, detail and extra fields', async () => {
  const app = await appThrowing(
    () => new NodeError('quota_exceeded', 'used its write quota', { dimension: 'write', retry_after: 1.5 }),
  );
  const response = await app.inject({ method: 'POST', url: '/x' });
  assert.equal(response.statusCode, 429);
  assert.deepEqual(response.json(), {
    error: 'quota_exceeded',
    detail: 'used its write quota',
    dimension: 'write',
    retry_after: 1.5,
  });
  await app.close();
});

test("a store's input error maps by its code (a bad cursor is a 422 naming the cursor)", async () => {
  const app = await appThrowing(() => new StoreInputError('invalid_cursor', 'not a cursor of this node'));
  const response = await app.inject({ method: 'POST', url: '/x' });
  assert.equal(response.statusCode, httpStatusOf('invalid_cursor'));
  assert.deepEqual(response.json(), { error: 'invalid_cursor', detail: 'cursor: not a cursor of this node' });
  const exists = await appThrowing(() => new StoreInputError('peer_exists', 'known'));
  assert.equal((await exists.inject({ method: 'POST', url: '/x' })).statusCode, 409);
  await Promise.all([app.close(), exists.close()]);
});

test('fastify errors keep the shape: bad JSON is 400 invalid_json, a big body 413', async () => {
  const app = await appThrowing(() => new Error('unreached'));
  const bad = await app.inject({
    method: 'POST',
    url: '/x',
    headers: { 'content-type': 'application/json' },
    payload: '{"a":',
  });
  assert.equal(bad.statusCode, 400);
  assert.equal(bad.json().error, 'invalid_json');
  const big = await app.inject({
    method: 'POST',
    url: '/x',
    headers: { 'content-type': 'application/json' },
    payload: JSON.stringify({ a: 'x'.repeat(70 * 1024) }),
  });
  assert.equal(big.statusCode, 413);
  assert.equal(big.json().error, 'payload_too_large');
  await app.close();
});

test('an unexpected error is a 500 `internal` that does not leak its message', async () => {
  const app = await appThrowing(() => new Error('secret path /etc/tessera/key.pem'));
  const response = await app.inject({ method: 'POST', url: '/x' });
  assert.equal(response.statusCode, 500);
  assert.deepEqual(response.json(), { error: 'internal', detail: 'internal server error' });
  await app.close();
});
