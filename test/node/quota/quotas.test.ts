// Per-principal quotas: a fresh key's bucket drains → 429 with the right retry_after and Retry-After,
// refills with (injected) time; buckets are per entity and per dimension; federation pulls per peer;
// breaches are counted and audited; memory stays bounded; disabled quotas let everything through.
// Over HTTP on a node built by the real composition, configured by the TESSERA_RATE_LIMIT_* settings.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import Fastify from 'fastify';
import { quotaExceeded, retryAfterSeconds } from '../../../src/node/features/quotas/quota-hook.ts';
import {
  createQuotas,
  type QuotaDimension,
  type QuotaSettings,
} from '../../../src/node/features/quotas/quotas.ts';
import { installErrorHandler } from '../../../src/node/http/error-handler.ts';
import { counterValue } from '../../support/metrics.ts';
import { bearer, FACT, manualClock, type NodeApp, startNodeApp } from '../../support/node-app.ts';

const SETTINGS: QuotaSettings = {
  writePerHour: 7, // one token every 514 285.7 ms: fractional retry_after
  readPerHour: 3600,
  federationPullPerHour: 2,
  adminPerHour: 3,
  // No burst cap here: these tests drain whole hourly buckets (stigmem-quotas.test.ts covers the burst).
  burst: 10_000_000,
  disabled: false,
};

describe('quotas over HTTP', () => {
  const time = manualClock();
  let api: NodeApp;

  before(async () => {
    api = await startNodeApp({
      clock: time.clock,
      env: {
        TESSERA_RATE_LIMIT_WRITE_PER_HOUR: String(SETTINGS.writePerHour),
        TESSERA_RATE_LIMIT_READ_PER_HOUR: String(SETTINGS.readPerHour),
        TESSERA_RATE_LIMIT_FEDERATION_PULL_PER_HOUR: String(SETTINGS.federationPullPerHour),
        TESSERA_RATE_LIMIT_ADMIN_PER_HOUR: String(SETTINGS.adminPerHour),
        TESSERA_RATE_LIMIT_BURST: String(SETTINGS.burst),
        TESSERA_API_KEY: 'static-admin-key-0123456789abcdef',
      },
    });
  });
  after(() => api?.close());

  let n = 0;
  const post = (token: string) =>
    api.app.inject({
      method: 'POST',
      url: '/v1/facts',
      headers: { ...bearer(token), 'content-type': 'application/json' },
      payload: JSON.stringify({ ...FACT, source: `s${n++}` }),
    });

  test('a fresh key drains its write bucket → 429 with retry_after and Retry-After; it refills with time', async () => {
    const token = await api.key(['read', 'write'], 'spiffe://example.org/agent/w');
    const before = await counterValue(api.node.metrics, 'tessera_quota_breaches_total', {
      dimension: 'fact_write',
    });
    for (let i = 0; i < 7; i++) assert.equal((await post(token)).statusCode, 201, `write ${i + 1}`);
    const refused = await post(token);
    assert.equal(refused.statusCode, 429);
    assert.deepEqual(refused.json(), {
      error: 'quota_exceeded',
      detail: 'spiffe://example.org/agent/w used its fact_write quota of 7 per hour; retry in 514.3 s',
      dimension: 'fact_write',
      principal: 'spiffe://example.org/agent/w',
      retry_after: 514.3,
    });
    assert.equal(refused.headers['retry-after'], '515');
    assert.equal(
      await counterValue(api.node.metrics, 'tessera_quota_breaches_total', { dimension: 'fact_write' }),
      before + 1,
    );
    const breach = (await api.audit('quota_breach')).at(-1);
    assert.deepEqual(
      [breach?.principal, breach?.detail],
      ['spiffe://example.org/agent/w', { dimension: 'fact_write' }],
    );

    assert.equal(
      (await api.app.inject({ method: 'GET', url: '/v1/facts', headers: bearer(token) })).statusCode,
      200,
      'reads have their own bucket',
    );

    time.advance(514_285);
    const almost = await post(token);
    assert.equal(almost.statusCode, 429);
    assert.equal(almost.json().retry_after, 0.1, 'one millisecond left rounds up to 0.1 s');
    assert.equal(almost.headers['retry-after'], '1');
    time.advance(1);
    assert.equal((await post(token)).statusCode, 201, 'one token back');
    assert.equal((await post(token)).statusCode, 429);
    time.advance(3_600_000);
    for (let i = 0; i < 7; i++)
      assert.equal((await post(token)).statusCode, 201, `after an hour, write ${i + 1}`);
    assert.equal((await post(token)).statusCode, 429, 'but never more than one hour of capacity');
  });

  test('buckets are per entity: all keys of one entity share one, another entity has its own', async () => {
    const [a1, a2, b] = [
      await api.key(['write'], 'urn:test:shared'),
      await api.key(['write'], 'urn:test:shared'),
      await api.key(['write'], 'urn:test:other'),
    ];
    for (let i = 0; i < 4; i++) assert.equal((await post(a1)).statusCode, 201);
    for (let i = 0; i < 3; i++) assert.equal((await post(a2)).statusCode, 201);
    const refused = await post(a2);
    assert.equal(refused.statusCode, 429);
    assert.equal(refused.json().principal, 'urn:test:shared');
    assert.equal((await post(b)).statusCode, 201);
  });

  test('admin routes have the admin dimension; open routes and refused requests take no token', async () => {
    const admin = await api.key(['admin'], 'urn:test:admin');
    const noKey = await api.app.inject({ method: 'GET', url: '/v1/admin/api-keys' });
    assert.equal(noKey.statusCode, 401);
    for (let i = 0; i < 20; i++)
      assert.equal((await api.app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200);
    // A read attempt refused with 403 costs the admin key nothing either.
    assert.equal(
      (await api.app.inject({ method: 'GET', url: '/v1/facts', headers: bearer(admin) })).statusCode,
      403,
    );
    for (let i = 0; i < 3; i++)
      assert.equal(
        (await api.app.inject({ method: 'GET', url: '/v1/admin/api-keys', headers: bearer(admin) }))
          .statusCode,
        200,
      );
    const refused = await api.app.inject({ method: 'GET', url: '/v1/admin/peers', headers: bearer(admin) });
    assert.equal(refused.statusCode, 429);
    assert.equal(refused.json().dimension, 'admin');
    assert.equal(refused.json().retry_after, 1200);
    assert.equal(refused.headers['retry-after'], '1200');
  });

  test('the static bootstrap key is limited like any principal (as static-admin)', async () => {
    const key = 'static-admin-key-0123456789abcdef';
    for (let i = 0; i < 7; i++) assert.equal((await post(key)).statusCode, 201);
    const refused = await post(key);
    assert.equal(refused.statusCode, 429);
    assert.equal(refused.json().principal, 'static-admin');
  });
});

describe('createQuotas', () => {
  test('takeFederationPull is per peer entity URI, and quotaExceeded makes the same 429 outside the hook', async () => {
    const time = manualClock();
    const breaches: [QuotaDimension, string][] = [];
    const quotas = createQuotas(SETTINGS, time.clock, { onBreach: (d, p) => breaches.push([d, p]) });
    const app = Fastify();
    installErrorHandler(app);
    app.get<{ Querystring: { peer: string } }>('/feed', async (request, reply) => {
      const decision = quotas.takeFederationPull(request.query.peer);
      if (!decision.allowed) throw quotaExceeded(decision, reply);
      return { ok: true };
    });
    const pull = (peer: string) =>
      app.inject({ method: 'GET', url: `/feed?peer=${encodeURIComponent(peer)}` });
    assert.equal((await pull('spiffe://p/b')).statusCode, 200);
    assert.equal((await pull('spiffe://p/b')).statusCode, 200);
    const refused = await pull('spiffe://p/b');
    assert.equal(refused.statusCode, 429);
    assert.deepEqual(
      { ...refused.json<Record<string, unknown>>(), detail: undefined },
      {
        error: 'quota_exceeded',
        detail: undefined,
        dimension: 'federation_pull',
        principal: 'spiffe://p/b',
        retry_after: 1800,
      },
    );
    assert.equal(refused.headers['retry-after'], '1800');
    assert.equal((await pull('spiffe://p/c')).statusCode, 200, 'another peer has its own bucket');
    assert.equal(quotas.take('spiffe://p/b', 'fact_read').allowed, true, 'pulls and reads are separate');
    assert.deepEqual(breaches, [['federation_pull', 'spiffe://p/b']], 'the one breach is reported');
    await app.close();
  });

  test('retry_after is fractional seconds rounded up to 0.1', () => {
    assert.equal(retryAfterSeconds(1), 0.1);
    assert.equal(retryAfterSeconds(100), 0.1);
    assert.equal(retryAfterSeconds(101), 0.2);
    assert.equal(retryAfterSeconds(3600), 3.6);
    assert.equal(retryAfterSeconds(514_286), 514.3);
  });

  test('nearCeiling lists the buckets under the fraction of their capacity, emptiest first, and they refill', () => {
    const time = manualClock();
    // admin: 3 an hour (capacity 3); federation_pull: 2 an hour (capacity 2).
    const quotas = createQuotas(SETTINGS, time.clock);
    quotas.take('urn:p/full-ish', 'admin'); // 2 of 3 left: not near
    for (let i = 0; i < 3; i++) quotas.take('urn:p/empty', 'admin'); // 0 of 3
    quotas.takeFederationPull('spiffe://p/peer'); // 1 of 2 left: half
    assert.deepEqual(quotas.nearCeiling(0.2, 10), [
      { principal: 'urn:p/empty', dimension: 'admin', remaining: 0, capacity: 3, perHour: 3 },
    ]);
    assert.deepEqual(
      quotas.nearCeiling(0.6, 10).map((l) => [l.principal, l.dimension, l.remaining]),
      [
        ['urn:p/empty', 'admin', 0],
        ['spiffe://p/peer', 'federation_pull', 1],
      ],
      'emptiest first',
    );
    assert.equal(quotas.nearCeiling(0.6, 1).length, 1, 'at most limit');
    time.advance(40 * 60_000); // two admin tokens back: 2 of 3
    assert.deepEqual(quotas.nearCeiling(0.2, 10), [], 'refilled buckets are no longer near the ceiling');
  });

  test('memory is bounded: full buckets are swept after idling, and a hard bound evicts least recently used', () => {
    const time = manualClock();
    const quotas = createQuotas({ ...SETTINGS, readPerHour: 3600 }, time.clock, { maxBuckets: 50 });
    for (let i = 0; i < 40; i++) quotas.take(`urn:p/${i}`, 'fact_read');
    assert.equal(quotas.size(), 40);
    time.advance(1000); // one read per second refills: all 40 are full again
    quotas.take('urn:p/new', 'fact_read');
    assert.equal(quotas.size(), 41, 'no sweep before a minute has passed');
    time.advance(60_000);
    quotas.take('urn:p/last', 'fact_read');
    assert.equal(quotas.size(), 1, 'only the bucket just used is kept');
    for (let i = 0; i < 200; i++) quotas.take(`urn:q/${i}`, 'fact_write');
    assert.ok(quotas.size() <= 50, `bounded (${quotas.size()})`);
  });

  test('disabled quotas let everything through and count nothing', async () => {
    const quotas = createQuotas(
      {
        writePerHour: 0,
        readPerHour: 0,
        federationPullPerHour: 0,
        adminPerHour: 0,
        burst: 1,
        disabled: true,
      },
      manualClock().clock,
    );
    assert.equal(quotas.enabled, false);
    for (let i = 0; i < 100; i++) {
      assert.equal(quotas.take('urn:x', 'fact_write').allowed, true);
      assert.equal(quotas.takeFederationPull('urn:peer').allowed, true);
    }
    assert.equal(quotas.size(), 0);
  });
});
