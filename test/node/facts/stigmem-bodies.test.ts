// Stigmem clients' fact bodies against the node as composed (auth, quotas, audit): the tutorial's loop
// body (plain value, no source, no confidence) gets 201; the stored and returned fact is in the typed
// form, its source is the API key's entity URI, confidence 1, and its CID is the typed spelling's; a body
// with no source and no authenticated caller is refused naming the field.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { factCid } from '../../../src/node/features/facts/cid.ts';
import { bearer, manualClock, type NodeApp, startNodeApp } from '../../support/node-app.ts';

const AGENT = 'stigmem://your-org.example.com/agent';

type Fact = { id: string; cid: string; value: unknown; source: string; confidence: number; scope: string };

describe('Stigmem fact bodies on POST /v1/facts', () => {
  const time = manualClock();
  let node: NodeApp;
  let writer: string;

  before(async () => {
    node = await startNodeApp({ clock: time.clock });
    writer = await node.key(['write', 'read'], AGENT);
  });
  after(() => node?.close());

  const post = (body: unknown, token = writer) =>
    node.app.inject({
      method: 'POST',
      url: '/v1/facts',
      headers: { ...bearer(token), 'content-type': 'application/json' },
      payload: JSON.stringify(body),
    });

  test("the tutorial's loop body → 201, typed value, source = the key's entity URI, confidence 1", async () => {
    const response = await post({ entity: 'stigmem://test/e1', relation: 'seq', value: '1', scope: 'team' });
    assert.equal(response.statusCode, 201, response.body);
    const stored = response.json<Fact>();
    assert.deepEqual(stored.value, { type: 'string', v: '1' });
    assert.equal(stored.source, AGENT);
    assert.equal(stored.confidence, 1);
    assert.equal(stored.scope, 'team');
    const typed = {
      entity: 'stigmem://test/e1',
      relation: 'seq',
      value: { type: 'string', v: '1' },
      source: AGENT,
      confidence: 1,
      scope: 'team',
    } as const;
    assert.equal(stored.cid, factCid(typed), 'the CID is over the typed form, as specified');
    // The typed spelling is the same fact: 200 and the record stored first.
    const again = await post(typed);
    assert.equal(again.statusCode, 200);
    assert.equal(again.json<Fact>().id, stored.id);
    const read = await node.app.inject({
      method: 'GET',
      url: `/v1/facts/${stored.cid}`,
      headers: bearer(writer),
    });
    assert.deepEqual(read.json<Fact>().value, { type: 'string', v: '1' });
  });

  test('number, boolean and null scalars become their typed values', async () => {
    for (const [value, typed] of [
      [7, { type: 'number', v: 7 }],
      [true, { type: 'boolean', v: true }],
      [null, { type: 'null', v: null }],
    ] as const) {
      const response = await post({
        entity: 'stigmem://test/scalars',
        relation: `r:${String(value)}`,
        value,
      });
      assert.equal(response.statusCode, 201, response.body);
      assert.deepEqual(response.json<Fact>().value, typed);
    }
  });

  test('an explicit source is kept; a bad scalar is refused naming the field', async () => {
    const kept = await post({ entity: 'stigmem://test/src', relation: 'seq', value: 'x', source: 'ops' });
    assert.equal(kept.json<Fact>().source, 'ops');
    const refused = await post({ entity: 'stigmem://test/src', relation: 'seq', value: ['x'] });
    assert.equal(refused.statusCode, 422);
    assert.match(refused.json<{ detail: string }>().detail, /^value: must be an object/);
  });

  test('the write is audited as fact_write under the principal', async () => {
    const entries = await node.audit('fact_write');
    assert.ok(
      entries.some((e) => e.principal === AGENT),
      JSON.stringify(entries.slice(-1)),
    );
  });
});
