// `tessera serve` started with a Stigmem operator's environment (STIGMEM_* names only), as a real child
// process: federation off runs a single node with no federation listener and no TLS, its database and
// transparency log where STIGMEM_DB_PATH / STIGMEM_TL_LOCAL_PATH say, the admin key from
// STIGMEM_ADMIN_KEY; and each refusal of the issue stops the start with a message naming the settings.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { request } from 'undici';
import { type CliProcess, runCli, startCli } from '../support/child.ts';

const ENTITY = 'stigmem://your-org.example.com/nodes/primary';
const ADMIN_KEY = 'stigmem-admin-key-0123456789abcdef';

describe('a single node from STIGMEM_* settings', () => {
  let root: string;
  let node: CliProcess;
  let apiUrl: string;
  let ready: Record<string, unknown>;

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'tessera-stigmem-single-'));
    node = startCli(['serve'], {
      env: {
        TESSERA_DATA_DIR: join(root, 'data'),
        TESSERA_ENTITY_URI: ENTITY,
        TESSERA_API_PORT: '0',
        TESSERA_LOG_LEVEL: 'info',
        STIGMEM_FEDERATION_ENABLED: 'false',
        STIGMEM_ADMIN_KEY: ADMIN_KEY,
        STIGMEM_DB_PATH: join(root, 'db', 'stigmem.db'),
        STIGMEM_TL_BACKEND: 'local',
        STIGMEM_TL_LOCAL_PATH: join(root, 'tl', 'tlog.jsonl'),
      },
    });
    ready = await node.waitForEvent((e) => e.event === 'node_ready', 60_000);
    apiUrl = ready.api_url as string;
  });
  after(async () => {
    await node?.stop();
    await rm(root, { recursive: true, force: true });
  });

  const api = async (method: 'GET' | 'POST', path: string, body?: unknown) => {
    const response = await request(new URL(path, apiUrl), {
      method,
      headers: {
        authorization: `Bearer ${ADMIN_KEY}`,
        ...(body ? { 'content-type': 'application/json' } : {}),
      },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    return { status: response.statusCode, body: (await response.body.json()) as Record<string, unknown> };
  };

  test('no federation listener, no TLS, no insecure warning', () => {
    assert.equal(ready.federation_url, null);
    assert.match(String(ready.msg), /federation disabled$/);
    const events = node.events();
    assert.ok(!events.some((e) => e.event === 'insecure_mode'), 'no SECURITY WARNING: nothing is insecure');
    assert.ok(!events.some((e) => String(e.msg ?? '').includes('federation listener')));
  });

  test('the admin key from STIGMEM_ADMIN_KEY works; the database is at STIGMEM_DB_PATH', async () => {
    const written = await api('POST', '/v1/facts', {
      entity: 'acme:site/1',
      relation: 'status',
      value: { type: 'string', v: 'up' },
      source: 'ops',
      scope: 'company',
    });
    assert.equal(written.status, 201, JSON.stringify(written.body));
    assert.ok(existsSync(join(root, 'db', 'stigmem.db')));
    assert.ok(!existsSync(join(root, 'data', 'tessera.db')), 'not in the data dir');
  });

  test('/.well-known/tessera says federation is disabled; adding a peer → 409 federation_disabled', async () => {
    const info = await request(new URL('/.well-known/tessera', apiUrl));
    assert.deepEqual(((await info.body.json()) as { federation: unknown }).federation, {
      transport: 'disabled',
      token: 'EdDSA-JWT',
    });
    const added = await api('POST', '/v1/admin/peers', { url: 'https://127.0.0.1:9' });
    assert.equal(added.status, 409);
    assert.equal(added.body.error, 'federation_disabled');
  });
});

describe('the transparency log at STIGMEM_TL_LOCAL_PATH', () => {
  test('rotate-key writes there, tlog verify reads there, the running node logs its new manifest there', async (t) => {
    const root = await mkdtemp(join(tmpdir(), 'tessera-stigmem-tlog-'));
    t.after(() => rm(root, { recursive: true, force: true }));
    const env = {
      TESSERA_DATA_DIR: join(root, 'data'),
      STIGMEM_TL_LOCAL_PATH: join(root, 'tl', 'tlog.jsonl'),
    };
    const node = startCli(['serve'], {
      env: {
        ...env,
        TESSERA_ENTITY_URI: ENTITY,
        TESSERA_API_PORT: '0',
        STIGMEM_FEDERATION_ENABLED: 'false',
        STIGMEM_ADMIN_KEY: ADMIN_KEY,
      },
    });
    t.after(() => node.stop());
    await node.waitForEvent((e) => e.event === 'node_ready', 60_000);
    const rotated = await runCli(['identity', 'rotate-key', '--kind', 'node', '--json'], {
      env: { ...env, TESSERA_ENTITY_URI: ENTITY },
    });
    assert.equal(rotated.code, 0, rotated.stderr);
    const result = JSON.parse(rotated.stdout) as { manifest_tl_index: number; rotation_tl_index: number };
    assert.deepEqual([result.manifest_tl_index, result.rotation_tl_index], [0, 1]);
    assert.ok(!existsSync(join(root, 'data', 'tlog.jsonl')), 'not in the data dir');
    await node.waitForEvent((e) => e.event === 'key_rotated', 30_000);
    let verified = { code: 1 as number | null, stdout: '' };
    // The command's manifest and event, then the manifest the node logs when it switches.
    for (let i = 0; i < 100 && !/: 3 entries/.test(verified.stdout); i++) {
      verified = await runCli(['tlog', 'verify'], { env });
      if (!/: 3 entries/.test(verified.stdout)) await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(verified.code, 0);
    assert.match(verified.stdout, new RegExp(`^tlog OK: ${join(root, 'tl', 'tlog.jsonl')}: 3 entries`));
  });
});

describe('tessera serve refuses a Stigmem environment it cannot honour', () => {
  let root: string;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'tessera-stigmem-refusals-'));
  });
  after(() => rm(root, { recursive: true, force: true }));

  const serve = (env: Record<string, string>) =>
    runCli(['serve'], {
      env: {
        TESSERA_DATA_DIR: join(root, 'data'),
        TESSERA_ENTITY_URI: ENTITY,
        TESSERA_FEDERATION_PORT: '0',
        TESSERA_API_PORT: '0',
        ...env,
      },
    });

  test('federation enabled without certificates and without the insecure flag → exit 1', async () => {
    const result = await serve({ STIGMEM_FEDERATION_ENABLED: 'true', STIGMEM_ADMIN_KEY: ADMIN_KEY });
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^tessera: TLS_CONFIG_INVALID: federation requires mutual TLS: set /);
    assert.match(result.stderr, /STIGMEM_TLS_CERT_PATH/);
    assert.ok(!existsSync(join(root, 'data')), 'nothing created');
  });

  test('the admin key under both names with different values → exit 1 naming both, no value shown', async () => {
    const other = 'tessera-admin-key-fedcba9876543210';
    const result = await serve({
      STIGMEM_FEDERATION_ENABLED: 'false',
      STIGMEM_ADMIN_KEY: ADMIN_KEY,
      TESSERA_API_KEY: other,
    });
    assert.equal(result.code, 1);
    assert.equal(
      result.stderr,
      'tessera: TESSERA_API_KEY and STIGMEM_ADMIN_KEY name the same setting and are both set, to different values: set only one\n',
    );
  });

  test('STIGMEM_TL_BACKEND=rekor → exit 1 saying only local is supported', async () => {
    const result = await serve({ STIGMEM_FEDERATION_ENABLED: 'false', STIGMEM_TL_BACKEND: 'rekor' });
    assert.equal(result.code, 1);
    assert.match(result.stderr, /STIGMEM_TL_BACKEND .*must be local: .*rekor are not supported/);
  });
});
