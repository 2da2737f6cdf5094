// Strict input, the same for API bodies and peer pages: valid UTF-8 only, no duplicate keys, bounded
// depth. Refused with a clear 4xx `{error, detail}` and nothing written.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { NodeError } from '../../src/node/errors.ts';
import { decodeUtf8, MAX_JSON_DEPTH, parseStrictJson } from '../../src/node/strict-json.ts';
import { bearer, FACT, manualClock, type NodeApp, startNodeApp } from '../support/node-app.ts';

const refusedWith = (code: string, detail: RegExp) => (error: unknown) => {
  assert.ok(error instanceof NodeError, String(error));
  assert.equal(error.code, code);
  assert.match(error.message, detail);
  return true;
};

test('duplicate keys are refused at any depth; the same key in sibling objects is fine', () => {
  assert.throws(
    () => parseStrictJson('{"a":1,"b":2,"a":3}'),
    refusedWith('validation_failed', /key "a" appears twice/),
  );
  assert.throws(
    () => parseStrictJson('{"x":[{"k":1},{"k":2,"k":3}]}'),
    refusedWith('validation_failed', /key "k" appears twice/),
  );
  assert.throws(
    () => parseStrictJson('{"a\\u0062":1,"ab":2}'),
    refusedWith('validation_failed', /key "ab" appears twice/),
    'keys compare after unescaping',
  );
  assert.deepEqual(parseStrictJson('{"x":[{"k":1},{"k":2}],"s":"a \\" \\\\ {\\"k\\":1, \\"k\\":2}"}'), {
    x: [{ k: 1 }, { k: 2 }],
    s: 'a " \\ {"k":1, "k":2}',
  });
});

test('a "__proto__" key is refused (prototype poisoning), as fastify\'s own parser did', () => {
  assert.throws(
    () => parseStrictJson('{"a":{"__proto__":{"admin":true}}}'),
    refusedWith('validation_failed', /key "__proto__" is not allowed/),
  );
});

test('nesting deeper than the limit is refused before anything recurses; syntax errors are invalid_json', () => {
  const deep = (n: number) => `${'['.repeat(n)}${']'.repeat(n)}`;
  assert.doesNotThrow(() => parseStrictJson(deep(MAX_JSON_DEPTH)));
  assert.throws(
    () => parseStrictJson(deep(MAX_JSON_DEPTH + 1)),
    refusedWith('validation_failed', /nested deeper/),
  );
  assert.throws(() => parseStrictJson(deep(200_000)), refusedWith('validation_failed', /nested deeper/));
  assert.throws(() => parseStrictJson('{"a":'), refusedWith('invalid_json', /not valid JSON/));
});

test('invalid UTF-8 is refused, never turned into U+FFFD', () => {
  assert.throws(
    () => decodeUtf8(Buffer.from([0x7b, 0x22, 0xc3, 0x28, 0x22, 0x7d])),
    refusedWith('invalid_json', /UTF-8/),
  );
  assert.equal(decodeUtf8(Buffer.from('"é✓"')), '"é✓"');
});

describe('the API refuses a bad body with a clear 4xx and writes nothing', () => {
  let node: NodeApp;
  let writer: string;
  before(async () => {
    node = await startNodeApp({ clock: manualClock().clock });
    writer = await node.key(['write']);
  });
  after(() => node?.close());

  const post = (payload: string | Buffer) =>
    node.app.inject({
      method: 'POST',
      url: '/v1/facts',
      headers: { ...bearer(writer), 'content-type': 'application/json' },
      payload,
    });

  test('a body that says scope twice is 422 naming the key; nothing stored', async () => {
    const twice = `{"entity":"e:1","relation":"r","value":{"type":"string","v":"x"},"source":"s","scope":"local","scope":"company"}`;
    const response = await post(twice);
    assert.equal(response.statusCode, 422);
    assert.deepEqual(response.json(), {
      error: 'validation_failed',
      detail: 'request body: key "scope" appears twice',
    });
    assert.equal(await node.node.store.countFacts(), 0);
  });

  test('invalid UTF-8 is 400 invalid_json; a too deep body is 422; a good body still works', async () => {
    const bad = await post(Buffer.from([...Buffer.from('{"entity":"'), 0xff, ...Buffer.from('"}')]));
    assert.equal(bad.statusCode, 400);
    assert.deepEqual(bad.json(), { error: 'invalid_json', detail: 'request body is not valid UTF-8' });
    const deep = await post(`{"entity":${'['.repeat(1000)}${']'.repeat(1000)}}`);
    assert.equal(deep.statusCode, 422);
    assert.match(deep.json().detail, /nested deeper than 32 levels/);
    assert.equal(await node.node.store.countFacts(), 0);
    assert.equal((await post(JSON.stringify(FACT))).statusCode, 201);
  });
});
