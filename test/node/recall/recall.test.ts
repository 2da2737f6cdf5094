// POST /v1/recall on the node as composed (real SQLite, every hook): relevance order and its tie-break,
// the token budget, the scope filter, the bounded scan, what Stigmem-Verify changes, and every refusal with
// its reason and status (bad bodies, bad header, media type, size, auth, permission, read quota).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { factCid } from '../../../src/node/features/facts/cid.ts';
import { factId } from '../../../src/node/features/facts/fact-id.ts';
import { SCAN_LIMIT } from '../../../src/node/features/recall/service.ts';
import { tokenCost } from '../../../src/node/features/recall/shortlist.ts';
import type { FactContent, FactRecord } from '../../../src/store/ports/facts.ts';
import { bearer, manualClock, type NodeApp, startNodeApp } from '../../support/node-app.ts';

const ADMIN = 'recall-test-admin-key-0123456789';
const JSON_HEADERS = { ...bearer(ADMIN), 'content-type': 'application/json' };

interface Answer {
  facts: (FactRecord & { chain_proof?: unknown })[];
  tokens_used: number;
  token_budget: number;
  truncated: boolean;
  chain_proof?: { checkpoint: Record<string, unknown> };
}

async function write(node: NodeApp, body: Record<string, unknown>): Promise<FactRecord> {
  const response = await node.app.inject({
    method: 'POST',
    url: '/v1/facts',
    headers: JSON_HEADERS,
    payload: JSON.stringify({ source: 'ops', scope: 'company', ...body }),
  });
  assert.equal(response.statusCode, 201, response.body);
  return response.json() as FactRecord;
}

function recall(node: NodeApp, body: unknown, headers: Record<string, string> = {}) {
  return node.app.inject({
    method: 'POST',
    url: '/v1/recall',
    headers: { ...JSON_HEADERS, ...headers },
    payload: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

async function answer(node: NodeApp, body: unknown, headers: Record<string, string> = {}): Promise<Answer> {
  const response = await recall(node, body, headers);
  assert.equal(response.statusCode, 200, response.body);
  return response.json() as Answer;
}

const values = (a: Answer) => a.facts.map((f) => f.value.v);

describe('recall on one node', () => {
  let node: NodeApp;
  const time = manualClock();
  const written: FactRecord[] = [];

  before(async () => {
    node = await startNodeApp({ clock: time.clock, env: { TESSERA_API_KEY: ADMIN } });
    const bodies = [
      { entity: 'acme:hardening/check', relation: 'status', value: 'passed' }, // entity: both terms (3 + 3)
      { entity: 'acme:site/1', relation: 'hardening', value: 'check pending' }, // relation 2 + value 1
      { entity: 'acme:site/2', relation: 'status', value: 'hardening done' }, // value 1
      { entity: 'acme:site/3', relation: 'status', value: 'Hardening, NOT done' }, // value 1, newer
      { entity: 'acme:site/4', relation: 'status', value: 'unrelated' }, // no match
      { entity: 'acme:site/5', relation: 'status', value: 'hardening', scope: 'team' }, // other scope
    ];
    for (const body of bodies) {
      written.push(await write(node, body));
      time.advance(1000);
    }
  });
  after(() => node?.close());

  test('most relevant first: entity terms weigh 3, relation 2, value 1; ties go to the newest HLC', async () => {
    const a = await answer(node, { query: 'hardening check', scope: 'company', token_budget: 10_000 });
    assert.deepEqual(values(a), ['passed', 'check pending', 'Hardening, NOT done', 'hardening done']);
    assert.equal(a.truncated, false);
    assert.equal(a.token_budget, 10_000);
    assert.equal(
      a.tokens_used,
      a.facts.reduce((sum, f) => sum + tokenCost(f), 0),
    );
    assert.ok(!('chain_proof' in a), 'no proofs unless asked');
    assert.ok(a.facts.every((f) => !('chain_proof' in f)));
    assert.deepEqual(a.facts[0], written[0], 'facts as stored, nothing added');
  });

  test('terms are whole words, any case, Unicode-normalised; punctuation separates them', async () => {
    assert.deepEqual(values(await answer(node, { query: 'HARDENING', scope: 'company' })).length, 4);
    assert.deepEqual(
      values(await answer(node, { query: 'harden', scope: 'company' })),
      [],
      'no prefix match',
    );
    assert.deepEqual(values(await answer(node, { query: '"not"!', scope: 'company' })), [
      'Hardening, NOT done',
    ]);
    assert.deepEqual(values(await answer(node, { query: 'ｎｏｔ', scope: 'company' })), [
      'Hardening, NOT done',
    ]);
  });

  test('scope filters exactly; absent means every scope', async () => {
    assert.deepEqual(values(await answer(node, { query: 'hardening', scope: 'team' })), ['hardening']);
    assert.equal((await answer(node, { query: 'hardening' })).facts.length, 5);
    assert.equal((await answer(node, { query: 'hardening', scope: 'public' })).facts.length, 0);
  });

  test('the budget keeps the longest prefix that fits and says it truncated; an exact fit is not truncated', async () => {
    const all = await answer(node, { query: 'hardening check', scope: 'company', token_budget: 10_000 });
    const costs = all.facts.map(tokenCost);
    const two = costs[0]! + costs[1]!;
    const cut = await answer(node, {
      query: 'hardening check',
      scope: 'company',
      token_budget: two + costs[2]! - 1,
    });
    assert.deepEqual(values(cut), values(all).slice(0, 2));
    assert.equal(cut.tokens_used, two);
    assert.equal(cut.truncated, true);
    const exact = await answer(node, {
      query: 'hardening check',
      scope: 'company',
      token_budget: costs.reduce((a, b) => a + b, 0),
    });
    assert.deepEqual(values(exact), values(all));
    assert.equal(exact.truncated, false);
    const none = await answer(node, { query: 'hardening check', scope: 'company', token_budget: 1 });
    assert.deepEqual(none.facts, []);
    assert.equal(none.tokens_used, 0);
    assert.equal(none.truncated, true);
    // Stops at the first fact that does not fit, even if a later, smaller one would.
    assert.ok(costs[0]! > 1);
  });

  test('token_budget defaults to 1000', async () => {
    const a = await answer(node, { query: 'hardening' });
    assert.equal(a.token_budget, 1000);
    assert.ok(a.tokens_used <= 1000);
  });

  test('Stigmem-Verify: full adds each fact\'s chain proof and the checkpoint; "none" and absent do not', async () => {
    const full = await answer(
      node,
      { query: 'hardening check', scope: 'company' },
      { 'stigmem-verify': 'full' },
    );
    assert.ok(full.chain_proof?.checkpoint);
    assert.equal(full.chain_proof.checkpoint.tree_size, written.length);
    assert.equal(full.chain_proof.checkpoint.log_id, 'spiffe://example.org/node/a');
    for (const fact of full.facts) {
      const proof = fact.chain_proof as Record<string, unknown>;
      assert.equal(proof.cid, fact.cid);
      assert.deepEqual(proof.origin_sig, fact.origin_sig);
      assert.equal(
        proof.log_index,
        written.findIndex((w) => w.cid === fact.cid),
        'log index = insertion order',
      );
      assert.equal(proof.tree_size, written.length);
      assert.ok(Array.isArray(proof.inclusion_proof));
    }
    for (const headers of [{ 'stigmem-verify': 'none' }, { 'stigmem-verify': ' NONE ' }]) {
      const plain = await answer(node, { query: 'hardening check' }, headers);
      assert.ok(!('chain_proof' in plain));
    }
    assert.ok(
      (await answer(node, { query: 'x' }, { 'stigmem-verify': 'Full' })).chain_proof,
      'case-insensitive',
    );
  });

  test('no match with full verification still answers the signed checkpoint of the whole log', async () => {
    const a = await answer(
      node,
      { query: 'nothing matches this', scope: 'company' },
      { 'stigmem-verify': 'full' },
    );
    assert.deepEqual(a.facts, []);
    const checkpoint = a.chain_proof?.checkpoint;
    assert.equal(checkpoint?.type, 'tessera.fact_log.checkpoint.v1');
    assert.equal(checkpoint?.tree_size, written.length);
    assert.match(String(checkpoint?.root_hash), /^[0-9a-f]{64}$/);
    assert.match(String(checkpoint?.signature), /^[A-Za-z0-9_-]{86}$/);
    const info = (await node.app.inject({ method: 'GET', url: '/.well-known/tessera' })).json();
    assert.equal(checkpoint?.public_key, info.public_key, 'signed with the node key the manifest publishes');
  });

  test('bad bodies are 422 naming the field; nothing else about the request is guessed', async () => {
    const cases: [unknown, RegExp][] = [
      [{}, /^query: is required$/],
      [{ query: '' }, /^query: must contain at least one letter or digit$/],
      [{ query: '?!… —' }, /^query: must contain at least one letter or digit$/],
      [{ query: 'a'.repeat(1025) }, /^query: must be at most 1024 characters$/],
      [{ query: 42 }, /^query: must be a string$/],
      [{ query: 'x', token_budget: 0 }, /^token_budget: must be an integer from 1 to 100000$/],
      [{ query: 'x', token_budget: 100_001 }, /^token_budget: must be an integer from 1 to 100000$/],
      [{ query: 'x', token_budget: 1.5 }, /^token_budget: must be an integer from 1 to 100000$/],
      [{ query: 'x', token_budget: '1000' }, /^token_budget: must be an integer from 1 to 100000$/],
      [{ query: 'x', scope: 'galaxy' }, /^scope: must be one of local, team, company, public$/],
      [{ query: 'x', limit: 5 }, /^limit: unknown field$/],
      [['query'], /^body: must be a JSON object$/],
    ];
    for (const [body, detail] of cases) {
      const response = await recall(node, body);
      assert.equal(response.statusCode, 422, JSON.stringify(body));
      assert.equal(response.json().error, 'validation_failed');
      assert.match(response.json().detail, detail, JSON.stringify(body));
    }
  });

  test('a Stigmem-Verify other than full or none is 400 saying what it takes', async () => {
    const response = await recall(node, { query: 'x' }, { 'stigmem-verify': 'partial' });
    assert.equal(response.statusCode, 400);
    assert.deepEqual(response.json(), {
      error: 'bad_request',
      detail: 'Stigmem-Verify: must be "full" or "none" (got "partial")',
    });
  });

  test('not JSON → 415 / 400, a body over 8 KiB → 413', async () => {
    const text = await node.app.inject({
      method: 'POST',
      url: '/v1/recall',
      headers: { ...bearer(ADMIN), 'content-type': 'text/plain' },
      payload: 'hardening',
    });
    assert.equal(text.statusCode, 415);
    assert.match(text.json().detail, /^POST \/v1\/recall takes Content-Type: application\/json/);
    assert.equal((await recall(node, '{"query":')).json().error, 'invalid_json');
    const big = await recall(node, { query: 'x', pad: 'y'.repeat(9000) });
    assert.equal(big.statusCode, 413);
    assert.equal(big.json().error, 'payload_too_large');
  });

  test('the same key as GET /v1/facts: none → 401, without read → 403, with read → 200', async () => {
    const anonymous = await node.app.inject({
      method: 'POST',
      url: '/v1/recall',
      headers: { 'content-type': 'application/json' },
      payload: '{"query":"x"}',
    });
    assert.equal(anonymous.statusCode, 401);
    const writer = await recall(node, { query: 'x' }, bearer(await node.key(['write'])));
    assert.equal(writer.statusCode, 403);
    assert.equal(writer.json().detail, 'read capability required');
    assert.equal((await recall(node, { query: 'x' }, bearer(await node.key(['read'])))).statusCode, 200);
  });
});

test('a recall is a read: it draws on the fact_read quota that GET /v1/facts uses', async () => {
  const time = manualClock();
  const node = await startNodeApp({
    clock: time.clock,
    env: { TESSERA_RATE_LIMIT_READ_PER_HOUR: '3600', TESSERA_RATE_LIMIT_BURST: '3' },
  });
  try {
    const key = await node.key(['read'], 'urn:test:reader');
    const get = () => node.app.inject({ method: 'GET', url: '/v1/facts', headers: bearer(key) });
    assert.equal((await get()).statusCode, 200);
    assert.equal((await recall(node, { query: 'x' }, bearer(key))).statusCode, 200);
    assert.equal((await get()).statusCode, 200);
    const refused = await recall(node, { query: 'x' }, bearer(key));
    assert.equal(refused.statusCode, 429);
    assert.equal(refused.json().dimension, 'fact_read');
    assert.equal(refused.json().principal, 'urn:test:reader');
  } finally {
    await node.close();
  }
});

test(`the scan reads the newest ${SCAN_LIMIT} facts: an older match is not recalled; facts stored before the log are proven`, async () => {
  const time = manualClock();
  const node = await startNodeApp({ clock: time.clock, env: { TESSERA_API_KEY: ADMIN } });
  try {
    // Stored straight in the store, as facts written before the fact log existed: no write event.
    const record = (n: number, v: string): FactRecord => {
      const content: FactContent = {
        entity: `acme:bulk/${n}`,
        relation: 'note',
        value: { type: 'string', v },
        source: 'ops',
        confidence: 1,
        scope: 'company',
      };
      const cid = factCid(content);
      return {
        ...content,
        id: factId(cid),
        cid,
        timestamp: '2026-05-01T10:00:00Z',
        valid_until: null,
        hlc: `${String(1_777_000_000_000 + n).padStart(15, '0')}-000000`,
        attested: null,
        received_from: null,
        origin_node_id: 'spiffe://example.org/node/a',
        origin_sig: null,
      };
    };
    await node.node.store.tx(async (tx) => {
      await tx.insertFact(record(0, 'needle oldest'));
      for (let n = 1; n < SCAN_LIMIT; n++) await tx.insertFact(record(n, `filler ${n}`));
      await tx.insertFact(record(SCAN_LIMIT, 'needle newest'));
    });
    const a = await answer(node, { query: 'needle' }, { 'stigmem-verify': 'full' });
    assert.deepEqual(values(a), ['needle newest'], `only the newest ${SCAN_LIMIT} facts are scanned`);
    assert.equal(
      a.chain_proof?.checkpoint.tree_size,
      SCAN_LIMIT + 1,
      'the whole backlog was logged on demand',
    );
    assert.equal((a.facts[0]!.chain_proof as { log_index: number }).log_index, SCAN_LIMIT);
  } finally {
    await node.close();
  }
});
