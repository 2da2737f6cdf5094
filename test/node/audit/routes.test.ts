// GET /v1/admin/audit over a real fastify instance and a real SQLite file: filters, keyset paging with the
// cursor, and the 422 answers for bad input (all in the node's {error, detail} shape).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import { rfc3339ToMillisCeil } from '../../../src/node/features/audit/query.ts';
import { registerAuditRoutes } from '../../../src/node/features/audit/routes.ts';
import { installErrorHandler, NODE_HTTP_OPTIONS } from '../../../src/node/http/error-handler.ts';
import type { AuditEntry } from '../../../src/store/ports/audit.ts';
import { AUDIT_T0, type AuditDb, auditDb, MINUTE, seedAudit } from '../../support/audit-log.ts';

const N = 30;
let db: AuditDb;
let app: FastifyInstance;
let all: AuditEntry[];

before(async () => {
  db = await auditDb('tessera-audit-routes-');
  all = await seedAudit(db.log, N);
  app = Fastify(NODE_HTTP_OPTIONS);
  installErrorHandler(app);
  registerAuditRoutes(app, { store: db.store });
  await app.ready();
});
after(async () => {
  await app.close();
  await db.cleanup();
});

interface Page {
  entries: (AuditEntry & { entity_uri: string | null })[];
  total: number;
  cursor: string | null;
}

/** The stored entries as the API shows them: plus `entity_uri` (the principal, Stigmem's name). */
const shown = (entries: AuditEntry[]) => entries.map((e) => ({ ...e, entity_uri: e.principal }));

async function get(query: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await app.inject({ method: 'GET', url: `/v1/admin/audit${query}` });
  return { status: res.statusCode, body: res.json() };
}

async function page(query: string): Promise<Page> {
  const { status, body } = await get(query);
  assert.equal(status, 200, JSON.stringify(body));
  return body as unknown as Page;
}

const at = (i: number) => new Date(AUDIT_T0 + i * MINUTE).toISOString();
const seqs = (entries: AuditEntry[]) => entries.map((e) => e.seq);

test('no filter: the first 100 (all 30) entries in seq order, with every wire field, total, cursor null', async () => {
  const { entries, total, cursor } = await page('');
  assert.deepEqual(entries, shown(all));
  assert.equal(total, N);
  assert.equal(cursor, null);
  assert.deepEqual(Object.keys(entries[0]!).sort(), [
    'detail',
    'entity_uri',
    'event_type',
    'hash',
    'prev_hash',
    'principal',
    'seq',
    'ts',
  ]);
});

test("Stigmem's reading: entity_uri is the principal; total counts the filter, not the page", async () => {
  const authFailed = all.filter((e) => e.event_type === 'auth_failed');
  const one = await page('?event_type=auth_failed&limit=1');
  assert.equal(one.entries.length, 1);
  assert.equal(one.total, authFailed.length);
  assert.equal(one.entries[0]?.entity_uri, authFailed[0]?.principal);
  // The tutorial's jq: [.entries[] | .entity_uri] | group_by(.) | map({principal: .[0], count: length})
  const byPrincipal = new Map<string | null, number>();
  for (const e of (await page('?limit=100')).entries)
    byPrincipal.set(e.entity_uri, (byPrincipal.get(e.entity_uri) ?? 0) + 1);
  assert.equal(byPrincipal.get('spiffe://example.org/user/bob'), all.filter((e) => e.seq % 3 === 1).length);
});

test('filters: event_type, principal, since (inclusive), until (exclusive), combined', async () => {
  const ofType = (type: string) => all.filter((e) => e.event_type === type);
  const authFailed = seqs(ofType('auth_failed'));
  assert.ok(authFailed.length >= 2, 'the seed holds several auth_failed entries');
  assert.deepEqual(seqs((await page('?event_type=auth_failed')).entries), authFailed);
  const bob = (await page(`?principal=${encodeURIComponent('spiffe://example.org/user/bob')}`)).entries;
  assert.deepEqual(
    seqs(bob),
    all.filter((e) => e.seq % 3 === 1).map((e) => e.seq),
  );
  assert.deepEqual(seqs((await page(`?since=${at(10)}&until=${at(13)}`)).entries), [10, 11, 12]);
  const factWrites = seqs(ofType('fact_write').filter((e) => e.ts >= at(2)));
  assert.ok(
    factWrites.length >= 1 && factWrites.length < ofType('fact_write').length,
    'since cuts the first one off',
  );
  assert.deepEqual(seqs((await page(`?event_type=fact_write&since=${at(2)}`)).entries), factWrites);
  assert.deepEqual(seqs((await page(`?event_type=fact_write&principal=nobody`)).entries), []);
});

test('since/until in any RFC 3339 form select the same instants as the UTC form', async () => {
  // 00:10:00Z written with a +02:00 offset, and with sub-millisecond digits that round up.
  const offset = encodeURIComponent('2026-03-01T02:10:00+02:00');
  assert.deepEqual(seqs((await page(`?since=${offset}&until=${at(12)}`)).entries), [10, 11]);
  const justAfter10 = '2026-03-01T00:10:00.000001Z';
  assert.deepEqual(seqs((await page(`?since=${justAfter10}&until=${at(12)}`)).entries), [11]);
  assert.deepEqual(seqs((await page(`?since=${at(10)}&until=${justAfter10}`)).entries), [10]);
  assert.equal(rfc3339ToMillisCeil('2016-12-31T23:59:60Z'), Date.parse('2017-01-01T00:00:00Z'));
  assert.equal(rfc3339ToMillisCeil('2026-02-30T00:00:00Z'), null);
});

test('paging: limit and cursor walk every entry once, the last page has cursor null', async () => {
  const seen: number[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const query: string = `?limit=7${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
    const result = await page(query);
    assert.ok(result.entries.length <= 7);
    seen.push(...seqs(result.entries));
    cursor = result.cursor;
    pages++;
  } while (cursor);
  assert.equal(pages, 5);
  assert.deepEqual(seen, seqs(all));
  assert.equal((await page('?limit=7')).total, N, 'the same total on every page');

  // Paging within a filter.
  const first = await page('?principal=spiffe://example.org/user/alice&limit=4');
  assert.deepEqual(seqs(first.entries), [3, 6, 9, 12]);
  const second = await page(`?principal=spiffe://example.org/user/alice&limit=4&cursor=${first.cursor}`);
  assert.deepEqual(seqs(second.entries), [15, 18, 21, 24]);
  assert.equal((await page('?limit=500')).entries.length, N);
  assert.equal((await page('?limit=1')).entries.length, 1);
});

test('bad input is 422 {error, detail} naming the parameter', async () => {
  const cases: [string, string, RegExp][] = [
    ['?limit=0', 'validation_failed', /^limit: must be an integer from 1 to 500$/],
    ['?limit=501', 'validation_failed', /^limit: must be an integer from 1 to 500$/],
    ['?limit=ten', 'validation_failed', /^limit: /],
    ['?limit=1&limit=2', 'validation_failed', /^limit: must be a string, given once$/],
    ['?since=yesterday', 'validation_failed', /^since: must be an RFC 3339 date-time/],
    ['?until=2026-02-30T00:00:00Z', 'validation_failed', /^until: must be an RFC 3339 date-time/],
    ['?since=2026-03-01T00:00:00', 'validation_failed', /^since: /],
    [`?since=${at(5)}&until=${at(4)}`, 'validation_failed', /^until: must not be before since$/],
    ['?event_type=made_up', 'validation_failed', /^event_type: must be one of fact_write, quota_breach/],
    ['?principal=', 'validation_failed', /^principal: must not be empty$/],
    ['?verbose=1', 'validation_failed', /^verbose: unknown parameter$/],
    ['?cursor=not-a-cursor', 'invalid_cursor', /^cursor: not a cursor returned by a previous page$/],
    ['?cursor=MDA', 'invalid_cursor', /^cursor: not a cursor returned by a previous page$/],
  ];
  for (const [query, code, detail] of cases) {
    const { status, body } = await get(query);
    assert.equal(status, 422, `${query}: ${JSON.stringify(body)}`);
    assert.equal(body.error, code, query);
    assert.match(String(body.detail), detail, query);
    assert.deepEqual(Object.keys(body).sort(), ['detail', 'error'], query);
  }
});
