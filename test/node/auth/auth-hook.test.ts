// The API listener's auth hook over real routes and a real SQLite store (fastify inject): who gets 401,
// who gets 403 with which exact body, which routes stay open, the static bootstrap key, auth switched off,
// and that failures are reported by reason without the token.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { AuthFailure } from '../../../src/node/features/auth/api-keys.ts';
import { installApiAuth } from '../../../src/node/features/auth/auth-hook.ts';
import { PERMISSIONS, type Permission } from '../../../src/node/features/auth/permissions.ts';
import { type ApiApp, bearer, FACT, manualClock, startApiApp } from '../../support/api-app.ts';
import { counterValue } from '../../support/metrics.ts';

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
  // A route no rule names needs admin: new routes are never open by accident.
  { method: 'GET', url: '/v1/unmapped', needs: 'admin' },
];

describe('API auth hook', () => {
  const time = manualClock();
  const failures: { reason: AuthFailure; keyId: string | undefined; args: number }[] = [];
  let api: ApiApp;
  const keyFor = new Map<Permission, string>();

  before(async () => {
    api = await startApiApp({
      clock: time.clock,
      extraRoutes: (app) => app.get('/v1/whoami', async (request) => request.principal),
      auth: {
        routeRules: [{ path: '/v1/whoami', permission: 'read' }],
        staticAdminKey: STATIC_KEY,
        onAuthFailed: (...args: [AuthFailure, string?]) =>
          failures.push({ reason: args[0], keyId: args[1], args: args.length }),
      },
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
    for (const url of ['/healthz', '/metrics', '/.well-known/tessera'])
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

  test('bad tokens are 401 with a reason for audit and never the token; expired and revoked say so', async () => {
    failures.length = 0;
    const counted = async () =>
      Promise.all(
        ['malformed', 'unknown_key', 'bad_secret', 'expired', 'revoked', 'missing'].map((reason) =>
          counterValue('tessera_api_auth_failures_total', { reason }),
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
    await api.apiKeys.revoke(revoked.slice(4, 16));
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
    assert.deepEqual(
      failures.map((f) => f.reason),
      cases.map(([, reason]) => reason),
    );
    assert.equal(failures[0]?.keyId, undefined, 'a malformed token names no key');
    assert.equal(failures[2]?.keyId, read.slice(4, 16));
    for (const failure of failures) assert.ok(failure.args <= 2, 'the callback gets reason and key id only');
    const missing = await api.app.inject({
      method: 'GET',
      url: '/v1/facts',
      headers: { authorization: 'Basic abc' },
    });
    assert.equal(missing.statusCode, 401);
    assert.equal(failures.at(-1)?.reason, 'missing');
    assert.deepEqual(
      (await counted()).map((value, i) => value - (countedBefore[i] as number)),
      [1, 1, 1, 1, 1, 1],
      'each refusal counted by reason',
    );
  });

  test('request.principal carries key id, entity URI and permissions; extra route rules apply', async () => {
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
    const open = await startApiApp({
      clock: time.clock,
      auth: { required: false },
      extraRoutes: (app) => app.get('/v1/whoami', async (request) => request.principal),
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

  test('a managed token configured as the static key is refused at start, naming neither secret', async () => {
    const keyed = await startApiApp({ clock: time.clock });
    try {
      const token = await keyed.key(['admin']);
      const Fastify = (await import('fastify')).default;
      assert.throws(
        () => installApiAuth(Fastify(), { apiKeys: keyed.apiKeys, required: true, staticAdminKey: token }),
        (error: Error) => /managed API key/.test(error.message) && !error.message.includes(token.slice(17)),
      );
    } finally {
      await keyed.close();
    }
  });
});
