// POST / GET / DELETE /v1/admin/api-keys on a node built by the real composition (real SQLite store, real
// auth hook): the token is returned once and works, the list holds no secret anywhere, revocation takes
// effect at once, bad input is a 422 naming the field, and the audit log records who did what (never a
// secret).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { bearer, manualClock, type NodeApp, startNodeApp } from '../../support/node-app.ts';

interface Created {
  id: string;
  key: string;
  entity_uri: string;
  permissions: string[];
  expires_at: string | null;
  description: string | null;
  created_at: string;
}

describe('admin API keys routes', () => {
  const time = manualClock('2026-05-01T10:00:00.000Z');
  let api: NodeApp;
  let admin: string;

  before(async () => {
    api = await startNodeApp({ clock: time.clock });
    admin = await api.key(['admin'], 'urn:test:operator');
  });
  after(() => api?.close());

  const call = (method: 'GET' | 'POST' | 'DELETE', url: string, body?: unknown, token = admin) =>
    api.app.inject({
      method,
      url,
      headers: { ...bearer(token), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { payload: JSON.stringify(body) }),
    });

  test('POST returns 201 with the full token once; the token works with exactly its permissions', async () => {
    const res = await call('POST', '/v1/admin/api-keys', {
      entity_uri: 'spiffe://example.org/agent/ingest',
      permissions: ['write'],
      expires_at: '2026-06-01T00:00:00+02:00',
      description: 'ingest job',
    });
    assert.equal(res.statusCode, 201);
    assert.equal(res.headers['cache-control'], 'no-store');
    const body = res.json<Created>();
    assert.deepEqual(Object.keys(body).sort(), [
      'created_at',
      'description',
      'entity_uri',
      'expires_at',
      'id',
      'key',
      'permissions',
    ]);
    assert.match(body.key, new RegExp(`^tsk_${body.id}_[A-Za-z0-9_-]{43}$`));
    assert.deepEqual(
      { ...body, key: undefined, id: undefined },
      {
        key: undefined,
        id: undefined,
        entity_uri: 'spiffe://example.org/agent/ingest',
        permissions: ['write'],
        expires_at: '2026-05-31T22:00:00.000Z',
        description: 'ingest job',
        created_at: '2026-05-01T10:00:00.000Z',
      },
    );
    const write = await api.app.inject({
      method: 'POST',
      url: '/v1/facts',
      headers: { ...bearer(body.key), 'content-type': 'application/json' },
      payload: JSON.stringify({
        entity: 'e:1',
        relation: 'r',
        value: { type: 'null', v: null },
        source: 's',
      }),
    });
    assert.equal(write.statusCode, 201);
    const read = await api.app.inject({ method: 'GET', url: '/v1/facts', headers: bearer(body.key) });
    assert.equal(read.statusCode, 403);

    const entry = (await api.audit('api_key_created')).at(-1);
    assert.equal(entry?.principal, 'urn:test:operator');
    assert.deepEqual(entry?.detail, {
      key_id: body.id,
      entity_uri: 'spiffe://example.org/agent/ingest',
      permissions: ['write'],
      expires_at: '2026-05-31T22:00:00.000Z',
    });
    assert.ok(!JSON.stringify(entry).includes(body.key.slice(17)), 'the audit log never sees the secret');
  });

  test('GET lists every key with status and no secret, no hash, no key field anywhere', async () => {
    const made = (
      await call('POST', '/v1/admin/api-keys', {
        entity_uri: 'urn:test:lister',
        permissions: ['read', 'audit.read'],
      })
    ).json<Created>();
    const res = await call('GET', '/v1/admin/api-keys');
    assert.equal(res.statusCode, 200);
    const { keys } = res.json<{ keys: Record<string, unknown>[] }>();
    const mine = keys.find((k) => k.id === made.id);
    assert.deepEqual(mine, {
      id: made.id,
      entity_uri: 'urn:test:lister',
      permissions: ['read', 'audit.read'],
      expires_at: null,
      description: null,
      created_at: made.created_at,
      revoked_at: null,
      status: 'active',
    });
    for (const key of keys) assert.equal('key' in key, false);
    assert.ok(!res.body.includes(made.key.slice(17)), 'no secret in the list');
    assert.ok(!res.body.includes('scrypt'), 'no hash in the list');
    assert.ok(!/tsk_/.test(res.body), 'no token in the list');
  });

  test('DELETE revokes (200, status revoked), the key stops working at once; again is 200 without a second event; unknown is 404', async () => {
    const made = (
      await call('POST', '/v1/admin/api-keys', { entity_uri: 'urn:test:victim', permissions: ['read'] })
    ).json<Created>();
    assert.equal(
      (await api.app.inject({ method: 'GET', url: '/v1/facts', headers: bearer(made.key) })).statusCode,
      200,
    );
    time.advance(1000);
    const res = await call('DELETE', `/v1/admin/api-keys/${made.id}`);
    assert.equal(res.statusCode, 200);
    assert.equal(res.json().status, 'revoked');
    assert.equal(res.json().revoked_at, time.clock().toISOString());
    const revocations = await api.audit('api_key_revoked');
    assert.equal(revocations.at(-1)?.principal, 'urn:test:operator');
    assert.deepEqual(revocations.at(-1)?.detail, { key_id: made.id });
    const after = await api.app.inject({ method: 'GET', url: '/v1/facts', headers: bearer(made.key) });
    assert.equal(after.statusCode, 401);
    assert.equal(after.json().detail, 'the API key has been revoked');

    assert.equal((await call('DELETE', `/v1/admin/api-keys/${made.id}`)).statusCode, 200);
    assert.equal((await api.audit('api_key_revoked')).length, revocations.length, 'no second entry');
    for (const id of ['ffffffffffff', 'not-an-id', 'x'.repeat(90)]) {
      const missing = await call('DELETE', `/v1/admin/api-keys/${id}`);
      assert.equal(missing.statusCode, 404, id);
      assert.equal(missing.json().error, 'not_found');
    }
  });

  test('invalid bodies are 422 {error: validation_failed, detail naming the field}; nothing is created', async () => {
    const before = (await api.node.store.listApiKeys()).length;
    const audited = (await api.audit('api_key_created')).length;
    const cases: [unknown, RegExp][] = [
      [{ permissions: ['read'] }, /^entity_uri: /],
      [{ entity_uri: 'not a uri', permissions: ['read'] }, /^entity_uri: must be an absolute URI/],
      [{ entity_uri: 'urn:x', permissions: [] }, /^permissions: /],
      [{ entity_uri: 'urn:x', permissions: ['root'] }, /^permissions\.0: /],
      [{ entity_uri: 'urn:x', permissions: 'read' }, /^permissions: /],
      [
        { entity_uri: 'urn:x', permissions: ['read'], expires_at: 'tomorrow' },
        /^expires_at: must be an RFC 3339/,
      ],
      [
        { entity_uri: 'urn:x', permissions: ['read'], expires_at: '2026-05-01T09:59:59Z' },
        /^expires_at: must be in the future/,
      ],
      [{ entity_uri: 'urn:x', permissions: ['read'], description: 'd'.repeat(501) }, /^description: /],
      [
        { entity_uri: 'urn:x', permissions: ['read'], expires_at: '2027-06-30T23:59:60Z' },
        /^expires_at: a leap second/,
      ],
      [{ entity_uri: 'urn:x', permissions: ['read'], secret: 'mine' }, /^secret: unknown field$/],
    ];
    for (const [body, detail] of cases) {
      const res = await call('POST', '/v1/admin/api-keys', body);
      assert.equal(res.statusCode, 422, JSON.stringify(body));
      assert.equal(res.json().error, 'validation_failed');
      assert.match(res.json().detail, detail);
    }
    assert.equal((await api.node.store.listApiKeys()).length, before);
    assert.equal((await api.audit('api_key_created')).length, audited, 'nothing audited either');
  });

  test('only admin may manage keys: 403 "admin capability required" for others, 401 without a key', async () => {
    const reader = await api.key(['read', 'write', 'federate', 'audit.read']);
    for (const [method, url, body] of [
      ['GET', '/v1/admin/api-keys', undefined],
      ['POST', '/v1/admin/api-keys', { entity_uri: 'urn:x', permissions: ['admin'] }],
      ['DELETE', `/v1/admin/api-keys/${admin.slice(4, 16)}`, undefined],
    ] as const) {
      const res = await call(method, url, body, reader);
      assert.equal(res.statusCode, 403, `${method} ${url}`);
      assert.deepEqual(res.json(), { error: 'forbidden', detail: 'admin capability required' });
      const anonymous = await api.app.inject({ method, url });
      assert.equal(anonymous.statusCode, 401);
    }
    assert.equal(
      (await api.node.store.getApiKey(admin.slice(4, 16)))?.revokedAt,
      null,
      'the admin key was not revoked',
    );
  });
});
