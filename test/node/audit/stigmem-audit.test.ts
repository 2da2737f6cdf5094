// The tutorial's audit steps against the node as composed: an admin mints an audit.read key through
// POST /v1/admin/api-keys, writes and a 429 leave `fact_write` and `quota_breach` entries, and the
// tutorial's reads work as written: `?event_type=quota_breach&limit=100` → entries with `entity_uri`,
// `?limit=10` → {seq, event_type, ts}, `.total`; a key without the permission gets its 403 detail.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { bearer, manualClock, type NodeApp, startNodeApp } from '../../support/node-app.ts';

const ADMIN_KEY = 'stigmem-admin-key-0123456789abcdef';
const AGENT = 'stigmem://your-org.example.com/agent';

interface AuditPage {
  entries: { seq: number; event_type: string; ts: string; entity_uri: string | null }[];
  total: number;
}

describe("the tutorial's audit steps", () => {
  const time = manualClock();
  let node: NodeApp;
  let auditKey: string;
  let apiKey: string;

  before(async () => {
    node = await startNodeApp({
      clock: time.clock,
      env: { STIGMEM_ADMIN_KEY: ADMIN_KEY, TESSERA_RATE_LIMIT_WRITE_PER_HOUR: '3' },
    });
    apiKey = await node.key(['write'], AGENT);
    const minted = await node.app.inject({
      method: 'POST',
      url: '/v1/admin/api-keys',
      headers: { ...bearer(ADMIN_KEY), 'content-type': 'application/json' },
      payload: JSON.stringify({
        entity_uri: 'stigmem://your-org.example.com/siem-reader',
        permissions: ['audit.read'],
      }),
    });
    assert.equal(minted.statusCode, 201, minted.body);
    auditKey = minted.json<{ key: string }>().key;
  });
  after(() => node?.close());

  const audit = (query: string, key = auditKey) =>
    node.app.inject({ method: 'GET', url: `/v1/admin/audit${query}`, headers: bearer(key) });

  test('writes until the 429, then quota_breach entries grouped by entity_uri name the principal', async () => {
    let refusedAt = 0;
    for (let i = 1; i <= 10 && !refusedAt; i++) {
      const response = await node.app.inject({
        method: 'POST',
        url: '/v1/facts',
        headers: { ...bearer(apiKey), 'content-type': 'application/json' },
        payload: JSON.stringify({
          entity: `stigmem://test/e${i}`,
          relation: 'seq',
          value: `${i}`,
          scope: 'team',
        }),
      });
      if (response.statusCode === 429) refusedAt = i;
      else assert.equal(response.statusCode, 201, response.body);
    }
    assert.equal(refusedAt, 4);
    await node.audit('quota_breach'); // every queued entry is written
    const breaches = await audit('?event_type=quota_breach&limit=100');
    assert.equal(breaches.statusCode, 200);
    const page = breaches.json<AuditPage>();
    assert.deepEqual(
      page.entries.map((e) => e.entity_uri),
      [AGENT],
    );
    assert.equal(page.total, 1);
    const last = await audit('?event_type=quota_breach&limit=1');
    assert.equal(last.json<AuditPage>().total, 1, "the final check's `jq '.total'`");
  });

  test('?limit=10 shows {seq, event_type, ts}; fact_write entries for the writes', async () => {
    const page = (await audit('?limit=10')).json<AuditPage>();
    assert.ok(page.entries.length > 0 && page.entries.length <= 10);
    for (const entry of page.entries) {
      assert.equal(typeof entry.seq, 'number');
      assert.equal(typeof entry.event_type, 'string');
      assert.match(entry.ts, /^\d{4}-\d\d-\d\dT/);
    }
    const writes = (await audit('?event_type=fact_write')).json<AuditPage>();
    assert.equal(writes.total, 3);
    assert.ok(writes.entries.every((e) => e.entity_uri === AGENT));
  });

  test('a key without audit.read → 403 {"detail": "audit.read capability required"}', async () => {
    const refused = await audit('', apiKey);
    assert.equal(refused.statusCode, 403);
    assert.equal(refused.json<{ detail: string }>().detail, 'audit.read capability required');
  });
});
