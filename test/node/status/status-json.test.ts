// The status page over plain HTTP, on a node built by the real composition: the page and its files are
// served to anyone but hold no data, under a strict CSP; /status.json needs a key with `read` (401
// without, 403 without the permission) and answers every section: this node, peers, replication,
// certificates, the refusals of the last hour by reason (the ones this test caused among them), and
// quotas near their ceiling (a writer who spent its bucket). On an mTLS node with a CRL, the CRL's
// nextUpdate is on the certificate timeline (kind crl) and in the expiry gauge.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { STATUS_CSP } from '../../../src/node/features/status/assets.ts';
import type { StatusDocument } from '../../../src/node/features/status/snapshot.ts';
import { writeCrl } from '../../support/crl.ts';
import { bearer, FACT, manualClock, NODE_URI, type NodeApp, startNodeApp } from '../../support/node-app.ts';
import { createTestCa, writeMaterial } from '../../support/pki.ts';

describe('status page over HTTP', () => {
  const time = manualClock();
  let api: NodeApp;

  before(async () => {
    api = await startNodeApp({
      clock: time.clock,
      env: {
        TESSERA_RATE_LIMIT_WRITE_PER_HOUR: '5',
        TESSERA_RATE_LIMIT_BURST: '5',
        TESSERA_API_KEY: 'static-admin-key-0123456789abcdef',
      },
    });
  });
  after(() => api?.close());

  const get = (url: string, token?: string) =>
    api.app.inject({ method: 'GET', url, headers: token ? bearer(token) : {} });

  test('the page, its script, stylesheet and icon are served without a key, hold no data, and carry the CSP', async () => {
    const page = await get('/status');
    assert.equal(page.statusCode, 200);
    assert.match(String(page.headers['content-type']), /^text\/html; charset=utf-8/);
    assert.equal(page.headers['content-security-policy'], STATUS_CSP);
    assert.match(STATUS_CSP, /default-src 'none'/);
    assert.match(STATUS_CSP, /script-src 'self'(;|$)/, 'no inline script, no other origin');
    assert.equal(page.headers['x-frame-options'], 'DENY');
    assert.equal(page.headers['referrer-policy'], 'no-referrer');
    assert.ok(!page.body.includes(NODE_URI), 'the shell names nothing about the node');
    assert.match(page.body, /<body data-auth="required">/, 'the script is told to ask for a key');
    assert.doesNotMatch(
      page.body,
      /<script>|<style>|style="|https?:\/\//,
      'no inline code, no external asset',
    );
    const script = await get('/status.js');
    assert.equal(script.statusCode, 200);
    assert.match(String(script.headers['content-type']), /^text\/javascript/);
    assert.doesNotMatch(script.body, /innerHTML|outerHTML|insertAdjacentHTML|eval\(|https?:\/\//);
    const style = await get('/status.css');
    assert.equal(style.statusCode, 200);
    assert.match(String(style.headers['content-type']), /^text\/css/);
    assert.doesNotMatch(style.body, /@import|url\(/, 'no fonts or images fetched from anywhere');
    const icon = await get('/status.svg');
    assert.equal(icon.statusCode, 200);
    assert.match(String(icon.headers['content-type']), /^image\/svg\+xml/);
    assert.doesNotMatch(icon.body, /<script|href=/i, 'a picture, nothing more');
  });

  test('/status.json: 401 without a key, 403 with a key that lacks read', async () => {
    const anonymous = await get('/status.json');
    assert.equal(anonymous.statusCode, 401);
    assert.equal(anonymous.json().error, 'unauthorized');
    assert.equal(anonymous.headers['www-authenticate'], 'Bearer realm="tessera"');
    const writer = await api.key(['write'], 'urn:test:write-only');
    const forbidden = await get('/status.json', writer);
    assert.equal(forbidden.statusCode, 403);
    assert.equal(forbidden.json().error, 'forbidden');
  });

  test('/status.json with a read key: every section, the refusals of the last hour, the quota spent', async () => {
    // A writer spends its whole bucket (5) and is refused once: near its ceiling, and a quota rejection.
    const writer = await api.key(['write'], 'urn:test:writer');
    for (let i = 0; i < 6; i++)
      await api.app.inject({
        method: 'POST',
        url: '/v1/facts',
        headers: { ...bearer(writer), 'content-type': 'application/json' },
        payload: JSON.stringify({ ...FACT, source: `w${i}` }),
      });
    const reader = await api.key(['read'], 'urn:test:reader');
    const answer = await get('/status.json', reader);
    assert.equal(answer.statusCode, 200, answer.body);
    assert.equal(answer.headers['cache-control'], 'no-store');
    assert.equal(answer.headers['content-security-policy'], STATUS_CSP);
    const status = answer.json<StatusDocument>();
    assert.equal(status.generated_at, time.clock().toISOString(), "at the node's clock");
    assert.equal(status.node.entity_uri, NODE_URI);
    assert.equal(status.node.federation, 'insecure');
    assert.equal(status.node.certificate, null, 'no TLS material in the insecure dev mode');
    assert.match(status.node.node_key.fingerprint, /^sha256:[0-9a-f]{64}$/);
    assert.deepEqual(status.peers, []);
    assert.equal(status.replication.written_per_minute > 0, true, 'five facts were written');
    assert.equal(status.certificates.tls, false);
    assert.deepEqual(status.certificates.entries, []);
    const refused = (source: string, reason: string) =>
      status.rejections.rows.find((row) => row.source === source && row.reason === reason)?.count;
    assert.equal(refused('api_auth', 'missing'), 1, 'the request without a key');
    assert.equal(refused('api_auth', 'forbidden'), 1, 'the write-only key');
    assert.equal(refused('quota', 'fact_write'), 1, "the writer's sixth write");
    assert.equal(status.rejections.total, 3);
    assert.equal(status.rejections.window_seconds, 3600);
    assert.deepEqual(status.quotas.near_ceiling, [
      { principal: 'urn:test:writer', dimension: 'fact_write', remaining: 0, capacity: 5, per_hour: 5 },
    ]);
  });
});

describe('status page without keys (TESSERA_AUTH_REQUIRED=false, loopback only)', () => {
  let api: NodeApp;
  before(async () => {
    api = await startNodeApp({ clock: manualClock().clock, env: { TESSERA_AUTH_REQUIRED: 'false' } });
  });
  after(() => api?.close());

  test('the page tells its script not to ask for a key, and the data answers without one', async () => {
    const page = await api.app.inject({ method: 'GET', url: '/status' });
    assert.match(page.body, /<body data-auth="none">/);
    const data = await api.app.inject({ method: 'GET', url: '/status.json' });
    assert.equal(data.statusCode, 200);
    assert.equal(data.json<StatusDocument>().node.entity_uri, NODE_URI);
  });
});

describe('status page of an mTLS node with a CRL (TESSERA_TLS_CRL_PATH)', () => {
  let api: NodeApp;
  let nextUpdate: Date;
  before(async () => {
    const ca = await createTestCa('Status CRL CA');
    const dir = await mkdtemp(join(tmpdir(), 'tessera-status-crl-'));
    after(() => rm(dir, { recursive: true, force: true }));
    const paths = await writeMaterial(dir, 'node', await ca.issue('node', { uris: [NODE_URI] }), ca.certPem);
    nextUpdate = new Date(Date.now() + 10 * 86_400_000);
    await writeCrl(join(dir, 'ca.crl'), ca, [], { nextUpdate });
    api = await startNodeApp({
      clock: manualClock(new Date().toISOString()).clock,
      env: {
        TESSERA_AUTH_REQUIRED: 'false',
        TESSERA_FEDERATION_INSECURE: 'false',
        TESSERA_TLS_CERT_PATH: paths.certPath,
        TESSERA_TLS_KEY_PATH: paths.keyPath,
        TESSERA_TLS_CA_BUNDLE: paths.caPath,
        TESSERA_TLS_CRL_PATH: join(dir, 'ca.crl'),
      },
    });
  });
  after(() => api?.close());

  test("the CRL's nextUpdate is on the certificate timeline (kind crl), in crls, and in the expiry gauge", async () => {
    const data = await api.app.inject({ method: 'GET', url: '/status.json' });
    assert.equal(data.statusCode, 200, data.body);
    const { certificates } = data.json<StatusDocument>();
    const due = new Date(Math.floor(nextUpdate.getTime() / 1000) * 1000).toISOString();
    const entry = certificates.entries.find((e) => e.kind === 'crl');
    assert.equal(entry?.name, 'crl:Status CRL CA');
    assert.equal(entry?.subject, 'CN=Status CRL CA');
    assert.equal(entry?.not_after, due);
    assert.equal(
      entry?.level,
      'warning',
      'ten days left: inside the 30-day warning window, outside the 7-day critical one',
    );
    assert.deepEqual(certificates.crls, [{ issuer: 'CN=Status CRL CA', next_update: due, level: 'warning' }]);
    const gauge = await api.node.metrics.getSingleMetric('tessera_tls_cert_expiry_timestamp_seconds')?.get();
    assert.equal(
      gauge?.values.find((v) => v.labels.cert === 'crl:Status CRL CA')?.value,
      Date.parse(due) / 1000,
    );
  });
});
