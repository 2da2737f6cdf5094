// Operator hardening on a real node process: a node started without a static key, its first admin key from
// `tessera keys bootstrap`, keys with permissions, the exact 403 for audit, a write quota that drains to a
// 429 with retry_after, the audit trail of it all, and `tessera audit verify` on the live database.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { request } from 'undici';
import { runCli } from '../support/child.ts';
import { fact, type NodeProcess, startNodeProcess } from '../support/node-process.ts';
import { createTestCa } from '../support/pki.ts';

interface Created {
  id: string;
  key: string;
  permissions: string[];
}

describe('hardened node: managed keys, permissions, quotas, audit', () => {
  let node: NodeProcess;
  let admin: string;
  let root: string;

  before(async () => {
    const ca = await createTestCa();
    root = await mkdtemp(join(tmpdir(), 'tessera-hardening-'));
    await mkdir(join(root, 'h'), { recursive: true });
    node = await startNodeProcess({
      name: 'h',
      ca,
      root,
      // No static key: managed keys only. A tiny write quota so the test can drain it.
      env: { TESSERA_API_KEY: '', TESSERA_RATE_LIMIT_WRITE_PER_HOUR: '3' },
    });
    const bootstrap = await runCli(['keys', 'bootstrap', '--data-dir', node.dataDir, '--json']);
    assert.equal(bootstrap.code, 0, bootstrap.stderr);
    admin = (JSON.parse(bootstrap.stdout) as { key: string }).key;
  });
  after(async () => {
    await node?.stop();
    await rm(root, { recursive: true, force: true });
  });

  test('the node warned at start that no admin key existed', async () => {
    const warning = await node.proc.waitForEvent((e) => e.event === 'no_admin_key');
    assert.match(String(warning.msg), /tessera keys bootstrap/);
  });

  test('an unknown or malformed bearer token → 401; the bootstrap key works', async () => {
    const unknown = await node.api<{ error: string }>(
      'GET',
      '/v1/facts',
      undefined,
      `tsk_${'0'.repeat(12)}_${'A'.repeat(43)}`,
    );
    assert.equal(unknown.status, 401);
    assert.equal(unknown.body.error, 'unauthorized');
    assert.equal((await node.api('GET', '/v1/facts', undefined, 'nonsense')).status, 401);
    assert.equal((await node.api('GET', '/v1/facts', undefined, admin)).status, 200);
  });

  test('a key without audit.read gets exactly the documented 403 on the audit endpoint', async () => {
    const writer = await node.api<Created>(
      'POST',
      '/v1/admin/api-keys',
      { entity_uri: 'urn:test:writer', permissions: ['read', 'write'], description: 'writer' },
      admin,
    );
    assert.equal(writer.status, 201);
    const denied = await node.api<{ error: string; detail: string }>(
      'GET',
      '/v1/admin/audit',
      undefined,
      writer.body.key,
    );
    assert.equal(denied.status, 403);
    assert.deepEqual(denied.body, { error: 'forbidden', detail: 'audit.read capability required' });
    const list = await node.api<{ keys: Record<string, unknown>[] }>(
      'GET',
      '/v1/admin/api-keys',
      undefined,
      admin,
    );
    assert.ok(list.body.keys.length >= 2);
    for (const key of list.body.keys)
      assert.equal(JSON.stringify(key).includes(writer.body.key.slice(17)), false);
  });

  test('a fresh key drains its write bucket → 429 quota_exceeded with retry_after and Retry-After', async () => {
    const writer = await node.api<Created>(
      'POST',
      '/v1/admin/api-keys',
      { entity_uri: 'urn:test:burst', permissions: ['write'] },
      admin,
    );
    for (let i = 0; i < 3; i++)
      assert.equal(
        (await node.api('POST', '/v1/facts', fact(`test:q/${i}`, 'local'), writer.body.key)).status,
        201,
      );
    const response = await request(new URL('/v1/facts', node.apiUrl), {
      method: 'POST',
      headers: { authorization: `Bearer ${writer.body.key}`, 'content-type': 'application/json' },
      body: JSON.stringify(fact('test:q/3', 'local')),
    });
    const body = (await response.body.json()) as Record<string, unknown>;
    assert.equal(response.statusCode, 429);
    assert.equal(body.error, 'quota_exceeded');
    assert.equal(body.dimension, 'fact_write');
    assert.equal(body.principal, 'urn:test:burst');
    // 3 per hour: one token every 1200 s; the retry is at most that and more than the time already spent.
    assert.ok(
      (body.retry_after as number) > 1100 && (body.retry_after as number) <= 1200,
      String(body.retry_after),
    );
    assert.equal(Number(response.headers['retry-after']), Math.ceil(body.retry_after as number));
    const total = await node.api<{ total: number }>('GET', '/v1/facts?entity=test:q/3', undefined, admin);
    assert.equal(total.body.total, 0, 'the refused write stored nothing');
  });

  test('the audit log recorded keys, writes, the breach and auth failures, and verifies intact', async () => {
    const auditor = await node.api<Created>(
      'POST',
      '/v1/admin/api-keys',
      { entity_uri: 'urn:test:auditor', permissions: ['audit.read'] },
      admin,
    );
    const entries = await node.api<{
      entries: { event_type: string; principal: string | null; detail: Record<string, unknown> }[];
    }>('GET', '/v1/admin/audit?limit=500', undefined, auditor.body.key);
    assert.equal(entries.status, 200);
    const types = new Set(entries.body.entries.map((e) => e.event_type));
    for (const type of ['api_key_created', 'fact_write', 'quota_breach', 'auth_failed'])
      assert.ok(types.has(type), `audit has ${type}; saw ${[...types].join(', ')}`);
    const bootstrapped = entries.body.entries.find((e) => e.principal === 'cli:tessera keys bootstrap');
    assert.equal(bootstrapped?.event_type, 'api_key_created', 'the bootstrap key is audited too');
    const breach = entries.body.entries.find((e) => e.event_type === 'quota_breach');
    assert.equal(breach?.principal, 'urn:test:burst');
    assert.equal(breach?.detail.dimension, 'fact_write');
    assert.equal(JSON.stringify(entries.body).includes(admin.slice(17)), false, 'no secret in the audit log');
    const filtered = await node.api<{ entries: { event_type: string }[] }>(
      'GET',
      '/v1/admin/audit?event_type=fact_write',
      undefined,
      auditor.body.key,
    );
    assert.ok(
      filtered.body.entries.length >= 3 && filtered.body.entries.every((e) => e.event_type === 'fact_write'),
    );
    const verify = await runCli(['audit', 'verify', '--data-dir', node.dataDir]);
    assert.equal(verify.code, 0, verify.stderr);
    assert.match(verify.stdout, /intact/);
  });
});
