// `tessera serve` as a real child process: a bad setting exits 1 with one message naming it before anything
// is created; TLS material that cannot be read stops the start with its code and file; a good configuration
// logs node_ready and SIGTERM stops the node cleanly (exit 0).
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { request } from 'undici';
import type { MaterialPaths } from '../../src/tls/material.ts';
import { runCli, startCli } from '../support/child.ts';
import { createTestCa, type TestCa, testUri, writeMaterial } from '../support/pki.ts';

const API_KEY = 'serve-test-key-0123456789abcdef';

describe('tessera serve', () => {
  let ca: TestCa;
  let root: string;
  let tls: MaterialPaths;

  before(async () => {
    ca = await createTestCa();
    root = await mkdtemp(join(tmpdir(), 'tessera-serve-'));
    tls = await writeMaterial(root, 'node', await ca.issue('a'), ca.certPem);
  });
  after(() => rm(root, { recursive: true, force: true }));

  /** A complete, valid environment for node a on free loopback ports, with its own (not yet created) data dir. */
  const goodEnv = (dataDir: string): Record<string, string> => ({
    TESSERA_DATA_DIR: dataDir,
    TESSERA_ENTITY_URI: testUri('a'),
    TESSERA_FEDERATION_PORT: '0',
    TESSERA_API_PORT: '0',
    TESSERA_TLS_CERT_PATH: tls.certPath,
    TESSERA_TLS_KEY_PATH: tls.keyPath,
    TESSERA_TLS_CA_BUNDLE: tls.caPath,
    TESSERA_API_KEY: API_KEY,
    TESSERA_LOG_LEVEL: 'info',
  });

  test('a bad setting exits 1 with "tessera: <message naming it>" before anything is created', async () => {
    const cases: { name: string; env?: Record<string, string>; args?: string[]; stderr: RegExp }[] = [
      {
        name: 'port out of range',
        env: { TESSERA_API_PORT: '99999' },
        stderr:
          /^tessera: TESSERA_API_PORT \(--api-port\) must be a port number from 0 to 65535 \(got "99999"\)\n$/,
      },
      {
        name: 'bad flag value',
        args: ['--api-tls', 'on'],
        stderr: /^tessera: TESSERA_API_TLS \(--api-tls\) must be off, tls or mtls \(got "on"\)\n$/,
      },
      {
        name: 'entity URI that is a URL',
        env: { TESSERA_ENTITY_URI: 'https://node-a.example.org' },
        stderr: /^tessera: TESSERA_ENTITY_URI \(--entity-uri\) must be an identity URI/,
      },
      {
        name: 'insecure and TLS together',
        env: { TESSERA_FEDERATION_INSECURE: '1' },
        stderr:
          /^tessera: TLS_INSECURE_REFUSED: TESSERA_FEDERATION_INSECURE \(--federation-insecure\)=1 contradicts/,
      },
      {
        name: 'API key too short',
        env: { TESSERA_API_KEY: 'tiny-secret-value' },
        stderr: /^tessera: TESSERA_API_KEY: an API key must be at least 24 characters/,
      },
    ];
    await Promise.all(
      cases.map(async (c, i) => {
        const dataDir = join(root, `bad-${i}`, 'data');
        const result = await runCli(['serve', ...(c.args ?? [])], {
          env: { ...goodEnv(dataDir), ...c.env },
        });
        assert.equal(result.code, 1, `${c.name}: ${result.stderr}`);
        assert.match(result.stderr, c.stderr, c.name);
        assert.ok(!result.stderr.includes('tiny-secret-value'), `${c.name}: the key is never printed`);
        assert.ok(!existsSync(join(root, `bad-${i}`)), `${c.name}: nothing was created`);
        assert.ok(!result.stdout.includes('node_ready'), c.name);
      }),
    );
  });

  test('a TLS certificate that cannot be read → exit 1 naming the file and TLS_FILE_UNREADABLE', async () => {
    const missing = join(root, 'tls-missing', 'node.crt');
    const result = await runCli(['serve'], {
      env: { ...goodEnv(join(root, 'unreadable')), TESSERA_TLS_CERT_PATH: missing },
    });
    assert.equal(result.code, 1, result.stderr);
    assert.match(result.stderr, /^tessera: TLS_FILE_UNREADABLE: /);
    assert.ok(result.stderr.includes(missing), result.stderr);
    assert.ok(!result.stdout.includes('node_ready'));
  });

  test('a good configuration logs node_ready; flags win over env; SIGTERM stops it with exit 0', async () => {
    const dataDir = join(root, 'good');
    // The env names an identity the certificate does not hold; the flag names the right one and must win.
    const proc = startCli(['serve', '--entity-uri', testUri('a'), '--federation-port', '0'], {
      env: {
        ...goodEnv(dataDir),
        TESSERA_ENTITY_URI: testUri('not-in-the-cert'),
        TESSERA_FEDERATION_PORT: '8',
      },
    });
    try {
      const ready = await proc.waitForEvent((e) => e.event === 'node_ready', 30_000);
      assert.equal(ready.entity_uri, testUri('a'));
      assert.match(String(ready.api_url), /^http:\/\/127\.0\.0\.1:\d+$/);
      assert.match(String(ready.federation_url), /^https:\/\/127\.0\.0\.1:\d+$/);
      assert.notEqual(new URL(String(ready.federation_url)).port, '0', 'the real port is advertised');
      const health = await request(new URL('/healthz', String(ready.api_url)));
      assert.equal(health.statusCode, 200);
      assert.deepEqual(await health.body.json(), { status: 'ok' });
      assert.ok(existsSync(join(dataDir, 'tessera.db')));
      proc.child.kill('SIGTERM');
      const exit = await proc.exited;
      assert.deepEqual(exit, { code: 0, signal: null });
      const stopping = await proc.waitForEvent((e) => e.event === 'node_stopping');
      assert.equal(stopping.signal, 'SIGTERM');
      assert.ok(!proc.stdout().includes(API_KEY), 'the API key is never logged');
    } finally {
      await proc.stop();
    }
  });

  // Guards the mTLS agent's close(): if it never settles, node.close() stops before the store is closed.
  test('SIGTERM closes everything: no error on stderr, the store closed (WAL checkpointed away)', async () => {
    const dataDir = join(root, 'clean-stop');
    const proc = startCli(['serve'], { env: goodEnv(dataDir) });
    try {
      await proc.waitForEvent((e) => e.event === 'node_ready', 30_000);
      assert.ok(existsSync(join(dataDir, 'tessera.db-wal')), 'WAL mode while running');
      proc.child.kill('SIGTERM');
      assert.deepEqual(await proc.exited, { code: 0, signal: null });
      assert.equal(proc.stderr(), '');
      assert.ok(!existsSync(join(dataDir, 'tessera.db-wal')), 'the store was closed');
    } finally {
      await proc.stop();
    }
  });
});
