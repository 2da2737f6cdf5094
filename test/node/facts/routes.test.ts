// The facts HTTP API over a real fastify instance and a real SQLite file. Every refused request is
// followed by a check that nothing was stored.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import Database from 'better-sqlite3';
import Fastify, { type FastifyInstance, type LightMyRequestResponse } from 'fastify';
import { AuditLog } from '../../../src/node/features/audit/audit-log.ts';
import { verifyChain } from '../../../src/node/features/audit/chain.ts';
import { factCid } from '../../../src/node/features/facts/cid.ts';
import { factId } from '../../../src/node/features/facts/fact-id.ts';
import { HybridClock, parseHlc } from '../../../src/node/features/facts/hlc.ts';
import { registerFactRoutes } from '../../../src/node/features/facts/routes.ts';
import { FactService } from '../../../src/node/features/facts/service.ts';
import { generateKey } from '../../../src/node/features/rotation/key-files.ts';
import { installErrorHandler } from '../../../src/node/http/error-handler.ts';
import type { FactRecord } from '../../../src/store/ports/facts.ts';
import { openSqliteStore } from '../../../src/store/sqlite/open.ts';
import type { Store } from '../../../src/store/store.ts';

const NODE = 'spiffe://example.org/node/a';
const DB_FILE = 'tessera.db';
const NOW = Date.parse('2026-03-04T05:06:07.089Z');

const nodeKey = generateKey();
let dir: string;
let store: Store;
let app: FastifyInstance;
const writes: FactRecord[] = [];

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tessera-facts-routes-'));
  store = await openSqliteStore(join(dir, DB_FILE));
  // A larger app-wide limit than the node's, so the 413 below proves the route's own 64 KiB limit.
  app = Fastify({ bodyLimit: 1024 * 1024 });
  installErrorHandler(app);
  const service = new FactService({
    store,
    selfEntityUri: NODE,
    nodeKey: () => nodeKey,
    hlc: new HybridClock(() => NOW),
    now: () => new Date(NOW),
    onWrite: (record) => writes.push(record),
    transaction: (fn) => store.tx(fn),
  });
  const audit = new AuditLog({ store, clock: () => new Date(NOW) });
  registerFactRoutes(app, { service, store, audit });
  await app.ready();
});

after(async () => {
  await app?.close();
  await store?.close();
  await rm(dir, { recursive: true, force: true });
});

const fact = (overrides: Record<string, unknown> = {}) => ({
  entity: 'stigmem://example.org/user/alice',
  relation: 'memory:role',
  value: { type: 'string', v: 'CTO' },
  source: 'stigmem://example.org/agent/assistant',
  confidence: 0.9,
  scope: 'company',
  ...overrides,
});

function post(
  body: unknown,
  contentType: string | null = 'application/json',
): Promise<LightMyRequestResponse> {
  return app.inject({
    method: 'POST',
    url: '/v1/facts',
    headers: contentType ? { 'content-type': contentType } : {},
    payload: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

const get = (url: string) => app.inject({ method: 'GET', url });

/** Runs `send`, asserts status and error code, and that the number of stored facts did not change. */
async function refused(
  send: () => Promise<LightMyRequestResponse>,
  status: number,
  code: string,
  detail?: RegExp,
): Promise<{ error: string; detail: string }> {
  const before = await store.countFacts();
  const writesBefore = writes.length;
  const response = await send();
  const body = response.json() as { error: string; detail: string };
  assert.equal(response.statusCode, status, response.body);
  assert.equal(body.error, code, response.body);
  assert.equal(typeof body.detail, 'string');
  if (detail) assert.match(body.detail, detail);
  assert.equal(await store.countFacts(), before, 'nothing was stored');
  assert.equal(writes.length, writesBefore, 'no write was announced');
  return body;
}

test('POST a new fact → 201 and the stored record with the server-owned fields', async () => {
  const response = await post(fact());
  assert.equal(response.statusCode, 201, response.body);
  const record = response.json() as FactRecord;
  const content = fact() as unknown as FactRecord;
  assert.equal(record.cid, factCid(content));
  assert.equal(record.id, factId(record.cid), 'the id is derived from the CID');
  assert.equal(record.origin_sig?.kid, nodeKey.keyId, 'signed by this node');
  assert.equal(record.timestamp, new Date(NOW).toISOString());
  assert.equal(record.valid_until, null);
  assert.equal(parseHlc(record.hlc).wallMs, NOW);
  assert.equal(record.attested, null);
  assert.equal(record.received_from, null);
  assert.equal(record.origin_node_id, NODE);
  for (const key of ['entity', 'relation', 'value', 'source', 'confidence', 'scope'] as const)
    assert.deepEqual(record[key], content[key], key);
  assert.equal(response.headers.location, `/v1/facts/${record.id}`);
  assert.deepEqual(writes.at(-1), record, 'onWrite saw the committed record');

  for (const key of [record.id, record.cid]) {
    const found = await get(`/v1/facts/${key}`);
    assert.equal(found.statusCode, 200);
    assert.deepEqual(found.json(), record);
  }
});

test('the same content twice → the same CID, one record; the second answer is 200 with the first record', async () => {
  const content = fact({ entity: 'test:dup', value: { type: 'number', v: 7 } });
  const count = await store.countFacts();
  const first = await post(content);
  assert.equal(first.statusCode, 201);
  // Same content, other key order, other timestamp: still the same fact.
  const { entity, relation, source, confidence, scope } = content;
  const again = await post({
    scope,
    confidence,
    source,
    value: { v: 7, type: 'number' },
    relation,
    entity,
    timestamp: '2020-01-01T00:00:00Z',
  });
  assert.equal(again.statusCode, 200, again.body);
  assert.deepEqual(again.json(), first.json());
  assert.equal(again.headers.location, undefined);
  assert.equal(await store.countFacts(), count + 1);
  assert.equal(await store.countFacts({ entity: 'test:dup' }), 1);
  assert.equal(writes.filter((w) => w.entity === 'test:dup').length, 1, 'only the real write is announced');
});

test('timestamp and valid_until are echoed byte for byte, also when read back', async () => {
  const timestamp = '2026-01-02T03:04:05.123456+02:00';
  const validUntil = '2027-12-31T23:59:59.999999999-05:30';
  const response = await post(fact({ entity: 'test:times', timestamp, valid_until: validUntil }));
  assert.equal(response.statusCode, 201, response.body);
  assert.ok(response.body.includes(`"timestamp":"${timestamp}"`), response.body);
  assert.ok(response.body.includes(`"valid_until":"${validUntil}"`), response.body);
  const id = (response.json() as FactRecord).id;
  const read = await get(`/v1/facts/${id}`);
  assert.ok(read.body.includes(`"timestamp":"${timestamp}"`), read.body);
  assert.ok(read.body.includes(`"valid_until":"${validUntil}"`), read.body);
  const listed = await get('/v1/facts?entity=test:times');
  assert.ok(listed.body.includes(`"timestamp":"${timestamp}"`), listed.body);
});

test('scope defaults to local; confidence to 1', async () => {
  const { scope: _s, confidence: _c, ...rest } = fact({ entity: 'test:defaults' });
  const response = await post(rest);
  assert.equal(response.statusCode, 201, response.body);
  const record = response.json() as FactRecord;
  assert.equal(record.scope, 'local');
  assert.equal(record.confidence, 1);
});

test('invalid bodies → 422 validation_failed naming the field; nothing stored', async (t) => {
  const cases: Array<[string, unknown, RegExp]> = [
    ['unknown value type', fact({ value: { type: 'integer', v: 1 } }), /^value\.type: /],
    ['bad scope', fact({ scope: 'galaxy' }), /^scope: /],
    ['confidence -0.1', fact({ confidence: -0.1 }), /^confidence: /],
    ['confidence 1.1', fact({ confidence: 1.1 }), /^confidence: /],
    ['malformed entity', fact({ entity: 'alice' }), /^entity: .*scheme:rest/],
    ['entity with whitespace', fact({ entity: 'user:alice smith' }), /^entity: .*whitespace/],
    ['malformed relation', fact({ relation: 'has role' }), /^relation: .*whitespace/],
    ['empty source', fact({ source: '' }), /^source: /],
    ['timestamp without offset', fact({ timestamp: '2026-01-02T03:04:05' }), /^timestamp: .*RFC 3339/],
    ['impossible timestamp', fact({ timestamp: '2026-02-30T00:00:00Z' }), /^timestamp: /],
    ['malformed valid_until', fact({ valid_until: 'tomorrow' }), /^valid_until: .*RFC 3339/],
    ['wrong v type', fact({ value: { type: 'number', v: '3' } }), /^value\.v: .*number/],
    ['null with a value', fact({ value: { type: 'null', v: 0 } }), /^value\.v: /],
    ['datetime v not RFC 3339', fact({ value: { type: 'datetime', v: 'soon' } }), /^value\.v: /],
    ['unknown field', fact({ valid_untill: '2026-01-01T00:00:00Z' }), /^valid_untill: unknown field/],
    ['server-owned field', fact({ cid: 'sha256:00' }), /^cid: unknown field/],
    ['missing field', { entity: 'user:alice' }, /^relation: is required/],
    // No authenticated caller here to stand in for a missing source (the node fills in the key's URI).
    ['no source and no caller', { ...fact(), source: undefined }, /^source: is required$/],
    ['array body', [fact()], /^body: /],
  ];
  for (const [name, body, detail] of cases) {
    await t.test(name, async () => {
      await refused(() => post(body), 422, 'validation_failed', detail);
    });
  }
});

test('a body over 64 KiB → 413 payload_too_large; nothing stored; just under it is accepted', async () => {
  await refused(
    () => post(fact({ entity: 'test:big', value: { type: 'text', v: 'x'.repeat(64 * 1024) } })),
    413,
    'payload_too_large',
  );
  const near = await post(fact({ entity: 'test:big', value: { type: 'text', v: 'x'.repeat(63 * 1024) } }));
  assert.equal(near.statusCode, 201, near.body.slice(0, 200));
});

test('a non-JSON content type → 415; broken JSON → 400; nothing stored', async () => {
  await refused(() => post(fact(), 'text/plain'), 415, 'unsupported_media_type', /application\/json/);
  await refused(() => post(fact(), 'application/x-www-form-urlencoded'), 415, 'unsupported_media_type');
  await refused(() => post(fact(), null), 415, 'unsupported_media_type', /none/);
  await refused(() => post('{"entity": "user:alice",', 'application/json'), 400, 'invalid_json');
  const charset = await post(fact({ entity: 'test:charset' }), 'Application/JSON; charset=utf-8');
  assert.equal(charset.statusCode, 201, charset.body);
});

test('GET /v1/facts rejects bad limits, scopes, unknown parameters and bad cursors with 422', async () => {
  for (const limit of ['0', '501', 'x', '-1', '2.5'])
    await refused(() => get(`/v1/facts?limit=${limit}`), 422, 'validation_failed', /^limit: /);
  await refused(() => get('/v1/facts?limit=1&limit=2'), 422, 'validation_failed', /^limit: /);
  await refused(() => get('/v1/facts?scope=galaxy'), 422, 'validation_failed', /^scope: /);
  await refused(() => get('/v1/facts?min_confidence=0.5'), 422, 'validation_failed', /unknown parameter/);
  const badCursor = await get('/v1/facts?cursor=not-a-cursor');
  assert.equal(badCursor.statusCode, 422, badCursor.body);
  assert.match((badCursor.json() as { detail: string }).detail, /^cursor: /);
});

test('pagination with the cursor visits every matching fact exactly once', async () => {
  const created = new Set<string>();
  for (let i = 0; i < 23; i++) {
    const response = await post(
      fact({ entity: 'test:page', relation: `test:n${i}`, value: { type: 'number', v: i } }),
    );
    assert.equal(response.statusCode, 201);
    created.add((response.json() as FactRecord).id);
  }
  // Another entity that must not show up in the filtered pages.
  await post(fact({ entity: 'test:other-page' }));

  const seen: string[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const url: string = `/v1/facts?entity=test:page&limit=5${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
    const response = await get(url);
    assert.equal(response.statusCode, 200, response.body);
    const page = response.json() as { facts: FactRecord[]; total: number; cursor: string | null };
    assert.equal(page.total, 23);
    assert.ok(page.facts.length <= 5);
    for (const f of page.facts) assert.equal(f.entity, 'test:page');
    seen.push(...page.facts.map((f) => f.id));
    cursor = page.cursor;
    pages++;
    assert.ok(pages <= 10, 'pagination terminates');
  } while (cursor);
  assert.equal(seen.length, 23);
  assert.deepEqual(new Set(seen), created);
  assert.equal(pages, 5);
});

test('GET /v1/facts filters by entity, relation, source and scope; default limit 50', async () => {
  for (const [relation, source, scope] of [
    ['test:a', 'src-1', 'team'],
    ['test:b', 'src-2', 'public'],
  ]) {
    const response = await post(fact({ entity: 'test:filter', relation, source, scope }));
    assert.equal(response.statusCode, 201, response.body);
  }
  const list = async (query: string) =>
    (await get(`/v1/facts?entity=test:filter&${query}`)).json() as { facts: FactRecord[]; total: number };
  assert.equal((await list('relation=test:a')).total, 1);
  // source before scope on purpose: two filters over different fields must not share a query.
  assert.equal((await list('source=src-2')).facts[0]?.relation, 'test:b');
  assert.equal((await list('scope=team')).facts[0]?.relation, 'test:a');
  assert.equal((await list('scope=local')).total, 0);

  for (let i = 0; i < 55; i++) await post(fact({ entity: 'test:many', value: { type: 'number', v: i } }));
  const page = (await get('/v1/facts?entity=test:many')).json() as {
    facts: FactRecord[];
    total: number;
    cursor: string;
  };
  assert.equal(page.facts.length, 50);
  assert.equal(page.total, 55);
  assert.equal(typeof page.cursor, 'string');
});

test('GET /v1/facts/:id: unknown id or CID → 404 not_found; malformed CID → 422', async () => {
  await refused(() => get('/v1/facts/no-such-id'), 404, 'not_found');
  await refused(() => get(`/v1/facts/sha256:${'a'.repeat(64)}`), 404, 'not_found');
  await refused(() => get(`/v1/facts/${'x'.repeat(100)}`), 404, 'not_found');
  await refused(() => get('/v1/facts/sha256:abc'), 422, 'validation_failed', /^id: /);
  await refused(() => get(`/v1/facts/sha256:${'A'.repeat(64)}`), 422, 'validation_failed', /^id: /);
});

test('a created fact and its fact_write audit entry commit together: no audit entry, no fact', async () => {
  const content = fact({ entity: 'test:audited' });
  // The audit table refuses inserts (a second connection's trigger): the whole write must be undone.
  const side = new Database(join(dir, DB_FILE));
  side.exec(
    "CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_log BEGIN SELECT RAISE(ABORT, 'audit storage gone'); END",
  );
  try {
    const auditBefore = (await store.listAudit({ event_type: 'fact_write' }, 100)).entries.length;
    await refused(
      () => post(content),
      500,
      'audit_write_failed',
      /audit entry fact_write could not be written/,
    );
    assert.equal((await get(`/v1/facts/${factCid(content as unknown as FactRecord)}`)).statusCode, 404);
    assert.equal((await store.listAudit({ event_type: 'fact_write' }, 100)).entries.length, auditBefore);
  } finally {
    side.exec('DROP TRIGGER refuse_audit');
    side.close();
  }
  // Storage back: the same write is created, with exactly one entry naming it, and the chain still verifies.
  const response = await post(content);
  assert.equal(response.statusCode, 201, response.body);
  const record = response.json() as FactRecord;
  const entries = (await store.listAudit({ event_type: 'fact_write' }, 100)).entries.filter(
    (e) => e.detail.cid === record.cid,
  );
  assert.equal(entries.length, 1);
  assert.deepEqual(entries[0]?.detail, {
    id: record.id,
    cid: record.cid,
    entity: record.entity,
    relation: record.relation,
    scope: record.scope,
  });
  // A duplicate (200) writes no second entry.
  assert.equal((await post(content)).statusCode, 200);
  assert.equal(
    (await store.listAudit({ event_type: 'fact_write' }, 100)).entries.filter(
      (e) => e.detail.cid === record.cid,
    ).length,
    1,
  );
  assert.equal((await verifyChain(await store.auditRange(0, 1000))).ok, true);
});
