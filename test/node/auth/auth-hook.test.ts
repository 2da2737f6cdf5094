// The API listener's auth hook on a node built by the real composition (fastify inject, real SQLite):
// who gets 401, who gets 403 with which exact body, which routes stay open, the static bootstrap key
// (TESSERA_API_KEY), auth switched off (TESSERA_AUTH_REQUIRED=false), and that failures are audited and
// counted by reason without the token.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Feature } from '../../../src/node/app/feature.ts';
import type { AuthFailure } from '../../../src/node/features/auth/api-keys.ts';
import { PERMISSIONS, type Permission } from '../../../src/node/features/auth/permissions.ts';
import { counterValue } from '../../support/metrics.ts';
import { bearer, FACT, manualClock, type NodeApp, startNodeApp } from '../../support/node-app.ts';

const STATIC_KEY = 'static-bootstrap-key-0123456789abcdef';

/** Each protected route, with the permission it needs. */
const ROUTES: {
  method: 'GET' | 'POST' | 'HEAD' | 'DELETE';
  url: string;
  needs: Permission;
  body?: unknown;
}[] = [
  { method: 'GET', url: '/v1/facts', needs: 'read' },
  { method: 'HEAD', url: '/v1/facts', needs: 'read' },
  { method: 'GET', url: '/v1/facts/sha256:' + '0'.repeat(64), needs: 'read' },
  { method: 'POST', url: '/v1/facts', needs: 'write', body: FACT },
  { method: 'GET', url: '/v1/admin/peers', needs: 'admin' },
  { method: 'POST', url: '/v1/admin/peers/x/approve', needs: 'admin', body: {} },
  { method: 'GET', url: '/v1/admin/api-keys', needs: 'admin' },
  { method: 'DELETE', url: '/v1/admin/api-keys/ffffffffffff', needs: 'admin' },
  { method: 'GET', url: '/v1/admin/audit', needs: 'audit.read' },
  // A route that declares no access needs admin: new routes are never open by accident.
  { method: 'GET', url: '/v1/undeclared', needs: 'admin' },
];

/** Routes the node does not have, added as a feature the way an embedder would. */
const extraRoutes: Feature = {
  name: 'test-routes',
  api: async (app) => {
    app.get('/v1/whoami', { config: { access: 'read' } }, async (request) => request.principal);
    app.get('/v1/undeclared', async () => ({ ok: true }));
  },
};

describe('API auth hook', () => {
  const time = manualClock();
  let api: NodeApp;
  const keyFor = new Map<Permission, string>();

  before(async () => {
    api = await startNodeApp({
      clock: time.clock,
      env: { TESSERA_API_KEY: STATIC_KEY },
      features: [extraRoutes],
    });
    for (const permission of PERMISSIONS) keyFor.set(permission, await api.key([permission]));
  });
  after(() => api?.close());

  const send = (route: (typeof ROUTES)[number], headers: Record<string, string> = {}) =>
    api.app.inject({
      method: route.method,
      url: route.url,
      headers: { ...headers, ...(route.body ? { 'content-type': 'application/json' } : {}) },
      ...(route.body ? { payload: JSON.stringify(route.body) } : {}),
    });

  test('permission matrix: each single-permission key passes exactly the routes of its permission', async () => {
    for (const [permission, token] of keyFor) {
      for (const route of ROUTES) {
        const res = await send(route, bearer(token));
        const label = `${permission} key → ${route.method} ${route.url}`;
        if (route.needs === permission) {
          assert.notEqual(res.statusCode, 401, label);
          assert.notEqual(res.statusCode, 403, label);
        } else {
          assert.equal(res.statusCode, 403, label);
          if (route.method !== 'HEAD')
            assert.deepEqual(
              res.json(),
              { error: 'forbidden', detail: `${route.needs} capability required` },
              label,
            );
        }
      }
    }
  });

  test('a non-audit key gets exactly 403 {"error":"forbidden","detail":"audit.read capability required"}', async () => {
    const token = await api.key(['read', 'write', 'federate', 'admin']);
    const res = await api.app.inject({ method: 'GET', url: '/v1/admin/audit', headers: bearer(token) });
    assert.equal(res.statusCode, 403);
    assert.equal(res.body, '{"error":"forbidden","detail":"audit.read capability required"}');
  });

  test('admin does not imply the others, and a key with several permissions has each of them', async () => {
    const admin = keyFor.get('admin') as string;
    assert.equal((await send(ROUTES[0] as (typeof ROUTES)[number], bearer(admin))).statusCode, 403);
    const both = await api.key(['read', 'write']);
    const post = {
      method: 'POST' as const,
      url: '/v1/facts',
      needs: 'write' as const,
      body: { ...FACT, source: 'both' },
    };
    assert.equal((await send(post, bearer(both))).statusCode, 201);
    assert.equal((await send(ROUTES[0] as (typeof ROUTES)[number], bearer(both))).statusCode, 200);
  });

  test('the static TESSERA_API_KEY is the static-admin principal with every permission', async () => {
    for (const route of ROUTES) {
      const res = await send(route, bearer(STATIC_KEY));
      assert.ok(![401, 403].includes(res.statusCode), `${route.method} ${route.url}: ${res.statusCode}`);
    }
  });

  test('health, readiness probes, metrics and well-known are open; 401 elsewhere without a key', async () => {
    for (const url of ['/healthz', '/readyz', '/metrics', '/.well-known/tessera'])
      assert.equal((await api.app.inject({ method: 'GET', url })).statusCode, 200, url);
    for (const route of ROUTES) {
      const res = await send(route);
      assert.equal(res.statusCode, 401, `${route.method} ${route.url}`);
      assert.equal(res.headers['www-authenticate'], 'Bearer realm="tessera"');
      if (route.method !== 'HEAD')
        assert.deepEqual(res.json(), {
          error: 'unauthorized',
          detail: 'an API key is required: Authorization: Bearer <key>',
        });
    }
  });

  test('an unknown route needs a valid key (then 404), and still 401 without one', async () => {
    const read = keyFor.get('read') as string;
    assert.equal(
      (await api.app.inject({ method: 'GET', url: '/v1/nothing', headers: bearer(read) })).statusCode,
      404,
    );
    assert.equal((await api.app.inject({ method: 'GET', url: '/v1/nothing' })).statusCode, 401);
  });

  test('bad tokens are 401, audited by reason and key id and never the token; expired and revoked say so', async () => {
    const audited = (await api.audit('auth_failed')).length;
    const counted = async () =>
      Promise.all(
        ['malformed', 'unknown_key', 'bad_secret', 'expired', 'revoked', 'missing'].map((reason) =>
          counterValue(api.node.metrics, 'tessera_api_auth_failures_total', { reason }),
        ),
      );
    const countedBefore = await counted();
    const get = (token: string) =>
      api.app.inject({ method: 'GET', url: '/v1/facts', headers: bearer(token) });
    const read = keyFor.get('read') as string;
    const wrong = `${read.slice(0, 17)}${'A'.repeat(43)}`;
    const expiring = await api.key(['read'], 'urn:test:temp', new Date(time.nowMs() + 5_000).toISOString());
    const revoked = await api.key(['read'], 'urn:test:gone');
    assert.equal((await get(revoked)).statusCode, 200);
    const revoke = await api.app.inject({
      method: 'DELETE',
      url: `/v1/admin/api-keys/${revoked.slice(4, 16)}`,
      headers: bearer(STATIC_KEY),
    });
    assert.equal(revoke.statusCode, 200);
    time.advance(5_000);

    const cases: [string, AuthFailure, string][] = [
      ['not-a-key', 'malformed', 'the API key is not valid'],
      ['tsk_000000000000_' + 'B'.repeat(43), 'unknown_key', 'the API key is not valid'],
      [wrong, 'bad_secret', 'the API key is not valid'],
      [expiring, 'expired', 'the API key has expired'],
      [revoked, 'revoked', 'the API key has been revoked'],
    ];
    for (const [token, reason, detail] of cases) {
      const res = await get(token);
      assert.equal(res.statusCode, 401, reason);
      assert.deepEqual(res.json(), { error: 'unauthorized', detail }, reason);
      assert.ok(!res.body.includes(token), 'the body does not echo the token');
    }
    const missing = await api.app.inject({
      method: 'GET',
      url: '/v1/facts',
      headers: { authorization: 'Basic abc' },
    });
    assert.equal(missing.statusCode, 401);
    const entries = (await api.audit('auth_failed')).slice(audited);
    assert.deepEqual(
      entries.map((entry) => [entry.principal, entry.detail]),
      [
        [null, { reason: 'malformed' }], // a malformed token names no key
        ['000000000000', { reason: 'unknown_key' }],
        [read.slice(4, 16), { reason: 'bad_secret' }],
        [expiring.slice(4, 16), { reason: 'expired' }],
        [revoked.slice(4, 16), { reason: 'revoked' }],
        [null, { reason: 'missing' }],
      ],
      'each refusal audited with its reason and key id only',
    );
    const written = JSON.stringify(entries);
    for (const [token] of cases) assert.ok(!written.includes(token), 'no token in the audit log');
    for (const token of [read, expiring, revoked])
      assert.ok(!written.includes(token.slice(17)), 'no secret in the audit log');
    assert.deepEqual(
      (await counted()).map((value, i) => value - (countedBefore[i] as number)),
      [1, 1, 1, 1, 1, 1],
      'each refusal counted by reason',
    );
  });

  test("request.principal carries key id, entity URI and permissions; an added feature's route declares its access", async () => {
    const token = await api.key(['read', 'audit.read'], 'spiffe://example.org/agent/reader');
    const res = await api.app.inject({ method: 'GET', url: '/v1/whoami', headers: bearer(token) });
    assert.equal(res.statusCode, 200);
    assert.deepEqual(res.json(), {
      keyId: token.slice(4, 16),
      entityUri: 'spiffe://example.org/agent/reader',
      permissions: ['read', 'audit.read'],
    });
    const admin = keyFor.get('admin') as string;
    const denied = await api.app.inject({ method: 'GET', url: '/v1/whoami', headers: bearer(admin) });
    assert.deepEqual(denied.json(), { error: 'forbidden', detail: 'read capability required' });
    const asStatic = await api.app.inject({ method: 'GET', url: '/v1/whoami', headers: bearer(STATIC_KEY) });
    assert.deepEqual(asStatic.json(), {
      keyId: 'static-admin',
      entityUri: 'static-admin',
      permissions: [...PERMISSIONS],
    });
  });

  test('TESSERA_AUTH_REQUIRED=false: no key needed, every caller is the anonymous principal', async () => {
    const open = await startNodeApp({
      clock: time.clock,
      env: { TESSERA_AUTH_REQUIRED: 'false' },
      features: [extraRoutes],
    });
    try {
      assert.equal((await open.app.inject({ method: 'GET', url: '/v1/admin/audit' })).statusCode, 200);
      const res = await open.app.inject({ method: 'GET', url: '/v1/whoami' });
      assert.deepEqual(res.json(), {
        keyId: 'anonymous',
        entityUri: 'anonymous',
        permissions: [...PERMISSIONS],
      });
    } finally {
      await open.close();
    }
  });

  test('a managed token configured as TESSERA_API_KEY is refused at start, without echoing it', async () => {
    const token = await api.key(['admin']);
    await assert.rejects(
      startNodeApp({ clock: time.clock, env: { TESSERA_API_KEY: token } }),
      (error: Error) => /managed API key/.test(error.message) && !error.message.includes(token.slice(17)),
    );
  });
});
