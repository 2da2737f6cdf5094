// The fact replies are written by fast-json-stringify from the routes' response schemas
// (src/node/features/facts/response-schema.ts). For every record the stores can hand out the body must be
// what JSON.stringify wrote before: generated records of every value type (nested JSON, unicode, escapes,
// lone surrogates, long strings), attestations, every nullable field null or set, odd numbers. A property
// the schema does not declare is not written (the stores never add one; the feed's peers refuse unknown
// fields anyway).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import { federationPageResponse } from '../../../src/node/features/facts/response-schema.ts';
import { registerFactRoutes } from '../../../src/node/features/facts/routes.ts';
import type { FactService } from '../../../src/node/features/facts/service.ts';
import { installErrorHandler } from '../../../src/node/http/error-handler.ts';
import type { FactPage, FactRecord, FactStore, FederationPage } from '../../../src/store/ports/facts.ts';

/** mulberry32: a small seeded PRNG, so a failure reproduces. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const random = prng(0x5eed);
const int = (n: number) => Math.floor(random() * n);
const pick = <T>(items: readonly T[]): T => items[int(items.length)]!;

// Plain ASCII, the characters JSON escapes, control characters, non-ASCII BMP, astral pairs, lone surrogates.
const PIECES = [
  'a',
  'Z',
  '0',
  ' ',
  '/',
  ':',
  '"',
  '\\',
  '\n',
  '\t',
  '\r',
  '\b',
  '\f',
  '\u0000',
  '\u0001',
  '\u001f',
  '\u007f',
  'é',
  'ß',
  '漢字',
  '\u2028',
  '\u2029',
  '\ufeff',
  '🙂',
  '𝄞',
  '\ud800',
  '\udfff',
  '</script>',
] as const;

function text(): string {
  // Mostly short (the serializer's character loop), some past 42 and 5000 characters (its other paths).
  const length = pick([0, 1, 3, 7, 8, 20, 41, 42, 60, 300, 5001, 9000]);
  let out = '';
  while (out.length < length) out += random() < 0.7 ? 'abcdefghij'[int(10)]! : pick(PIECES);
  return out;
}

function number(): number {
  return pick([
    0,
    -0,
    1,
    0.5,
    0.1 + 0.2,
    1e-7,
    1e21,
    -1e-300,
    Number.MAX_SAFE_INTEGER,
    Number.MIN_VALUE,
    Number.MAX_VALUE,
    random(),
    (random() - 0.5) * 1e6,
  ]);
}

function json(depth: number): unknown {
  const kind = depth <= 0 ? int(4) : int(6);
  switch (kind) {
    case 0:
      return text();
    case 1:
      return number();
    case 2:
      return random() < 0.5;
    case 3:
      return null;
    case 4:
      return Array.from({ length: int(4) }, () => json(depth - 1));
    default:
      return Object.fromEntries(Array.from({ length: int(4) }, () => [text(), json(depth - 1)]));
  }
}

function value(): FactRecord['value'] {
  switch (int(8)) {
    case 0:
      return { type: 'number', v: number() };
    case 1:
      return { type: 'boolean', v: random() < 0.5 };
    case 2:
      return { type: 'null', v: null };
    case 3:
      // Not a stored shape, but `value` is serialized as any JSON: whatever it holds comes out as it is.
      return json(3) as FactRecord['value'];
    default:
      return { type: pick(['string', 'text', 'datetime', 'ref'] as const), v: text() };
  }
}

/** A record with its fields in the order the stores build one (factFromRow / factFromTuple). */
function record(): FactRecord {
  return {
    id: text(),
    entity: text(),
    relation: text(),
    value: value(),
    source: text(),
    confidence: number(),
    scope: pick(['local', 'team', 'company', 'public'] as const),
    timestamp: text(),
    valid_until: random() < 0.5 ? null : text(),
    hlc: text(),
    cid: text(),
    attested: random() < 0.5 ? null : { by: text(), claims: json(3), list: [json(2), json(2)] },
    received_from: random() < 0.5 ? null : text(),
    origin_node_id: text(),
    origin_sig: random() < 0.3 ? null : { kid: text(), sig: text() },
  };
}

const RECORDS = Array.from({ length: 400 }, record);

let app: FastifyInstance;
let page: FactPage;
let feed: FederationPage;
let posted: { record: FactRecord; created: boolean };

before(async () => {
  app = Fastify();
  installErrorHandler(app);
  // The real routes over a store and service that hand out the generated records.
  const store = {
    getFact: async (id: string) => RECORDS[Number(id)] ?? null,
    listFacts: async () => page,
  } as unknown as FactStore;
  const service = { assert: async () => posted } as unknown as FactService;
  registerFactRoutes(app, { service, store });
  // The feed route needs a peer's credentials: its schema on a route of its own.
  app.get('/feed', { schema: { response: { 200: federationPageResponse } } }, async () => feed);
  await app.ready();
});

after(async () => {
  await app?.close();
});

test('GET /v1/facts/:id writes every generated record as JSON.stringify did, byte for byte', async () => {
  for (const [i, expected] of RECORDS.entries()) {
    const response = await app.inject({ method: 'GET', url: `/v1/facts/${i}` });
    assert.equal(response.statusCode, 200);
    assert.equal(response.headers['content-type'], 'application/json; charset=utf-8');
    assert.deepStrictEqual(JSON.parse(response.body), JSON.parse(JSON.stringify(expected)), `record ${i}`);
    assert.equal(response.body, JSON.stringify(expected), `record ${i}`);
  }
});

test('GET /v1/facts pages and POST /v1/facts records come out as JSON.stringify wrote them', async () => {
  for (let start = 0; start < RECORDS.length; start += 37) {
    const facts = RECORDS.slice(start, start + int(60));
    page = { facts, total: start * 3 + facts.length, cursor: random() < 0.5 ? null : text() };
    const list = await app.inject({ method: 'GET', url: '/v1/facts' });
    assert.equal(list.statusCode, 200);
    assert.deepStrictEqual(JSON.parse(list.body), JSON.parse(JSON.stringify(page)));
    assert.equal(list.body, JSON.stringify(page));
  }
  for (const [i, expected] of RECORDS.slice(0, 100).entries()) {
    // A 201 puts the id in its Location header: only ids encodeURIComponent takes (no lone surrogate).
    const created = i % 2 === 0 && !/\p{Cs}/u.test(expected.id);
    posted = { record: expected, created };
    const response = await app.inject({
      method: 'POST',
      url: '/v1/facts',
      headers: { 'content-type': 'application/json' },
      payload: '{}',
    });
    assert.equal(response.statusCode, created ? 201 : 200);
    assert.deepStrictEqual(JSON.parse(response.body), JSON.parse(JSON.stringify(expected)));
  }
});

test('a feed page comes out as JSON.stringify wrote it, with and without `remaining`', async () => {
  for (let start = 0; start < RECORDS.length; start += 50) {
    const facts = RECORDS.slice(start, start + 50);
    const more = random() < 0.5;
    feed = { facts, cursor: `${start}.abcdef01`, more, remaining: more ? int(10_000) : 0 };
    if (start % 100 === 0) delete (feed as Partial<FederationPage>).remaining;
    const response = await app.inject({ method: 'GET', url: '/feed' });
    assert.equal(response.statusCode, 200);
    assert.deepStrictEqual(JSON.parse(response.body), JSON.parse(JSON.stringify(feed)));
    assert.equal(response.body, JSON.stringify(feed));
  }
});

test('a record in another key order (a POST builds one) parses to the same JSON; undefined fields are left out', async () => {
  const { id: _id, cid, hlc, ...rest } = RECORDS[1]!;
  const reordered = { ...rest, cid, hlc, id: 'fact-1', valid_until: undefined } as unknown as FactRecord;
  posted = { record: reordered, created: true };
  const response = await app.inject({
    method: 'POST',
    url: '/v1/facts',
    headers: { 'content-type': 'application/json' },
    payload: '{}',
  });
  assert.equal(response.statusCode, 201);
  const body = JSON.parse(response.body) as Record<string, unknown>;
  assert.deepStrictEqual(body, JSON.parse(JSON.stringify(reordered)));
  assert.equal('valid_until' in body, false);
});

test('properties the schema does not declare are not written (record, origin_sig, page)', async () => {
  const base = RECORDS.find((r) => r.origin_sig !== null)!;
  const leaky = {
    ...base,
    secret: 'not for the wire',
    origin_sig: { ...base.origin_sig!, private: 'key material' },
  } as unknown as FactRecord;
  page = { facts: [leaky], total: 1, cursor: null, internal: true } as unknown as FactPage;
  const list = await app.inject({ method: 'GET', url: '/v1/facts' });
  const body = JSON.parse(list.body) as { facts: Record<string, unknown>[] } & Record<string, unknown>;
  assert.equal('internal' in body, false);
  assert.equal('secret' in body.facts[0]!, false);
  assert.deepStrictEqual(body.facts[0]!.origin_sig, base.origin_sig);
  assert.deepStrictEqual(body, JSON.parse(JSON.stringify({ facts: [base], total: 1, cursor: null })));
});

test('errors keep their {error, detail} body', async () => {
  const response = await app.inject({ method: 'GET', url: `/v1/facts/${RECORDS.length + 5}` });
  assert.equal(response.statusCode, 404);
  const body = JSON.parse(response.body) as Record<string, unknown>;
  assert.equal(body.error, 'not_found');
  assert.equal(typeof body.detail, 'string');
});
