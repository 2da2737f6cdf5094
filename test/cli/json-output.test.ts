// `--json` across the CLI: each verb's result is one JSON document on stdout, and a failure with --json is
// `{"error": <code>, "detail": <message>}` on stderr with exit 1 (usage errors exit 2), never a stack trace.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { runCli } from '../support/child.ts';
import { tempDir } from '../support/pki.ts';

const json = (text: string) => JSON.parse(text) as Record<string, unknown>;

test('pki init-ca, issue and dev print their results as JSON', async (t) => {
  const dir = await tempDir(t);
  const ca = await runCli(['pki', 'init-ca', '--dir', join(dir, 'ca'), '--json']);
  assert.equal(ca.code, 0, ca.stderr);
  assert.deepEqual(json(ca.stdout), {
    cert_path: join(dir, 'ca', 'ca.crt'),
    key_path: join(dir, 'ca', 'ca.key'),
  });

  const issued = await runCli([
    'pki',
    'issue',
    '--ca-dir',
    join(dir, 'ca'),
    '--out',
    join(dir, 'out'),
    '--name',
    'a',
    '--uri',
    'spiffe://example.org/node/a',
    '--json',
  ]);
  assert.equal(issued.code, 0, issued.stderr);
  const leaf = json(issued.stdout);
  assert.equal(leaf.cert_path, join(dir, 'out', 'a.crt'));
  assert.deepEqual(leaf.uris, ['spiffe://example.org/node/a']);
  assert.match(String(leaf.spki_sha256), /^[0-9a-f]{64}$/);

  const dev = await runCli(['pki', 'dev', '--out', join(dir, 'dev'), '--nodes', 'a,b', '--json']);
  assert.equal(dev.code, 0, dev.stderr);
  const pki = json(dev.stdout);
  assert.equal(pki.ca_reused, false);
  assert.deepEqual(
    (pki.nodes as { name: string; uri: string }[]).map((n) => [n.name, n.uri]),
    [
      ['a', 'spiffe://example.org/node/a'],
      ['b', 'spiffe://example.org/node/b'],
    ],
  );

  const checked = await runCli([
    'tls',
    'check',
    '--cert',
    join(dir, 'dev', 'a.crt'),
    '--key',
    join(dir, 'dev', 'a.key'),
    '--ca',
    join(dir, 'dev', 'ca.crt'),
    '--json',
  ]);
  assert.equal(checked.code, 0, checked.stderr);
  assert.equal(json(checked.stdout).ok, true);
  assert.deepEqual(json(checked.stdout).uris, ['spiffe://example.org/node/a']);
});

test('a failure with --json is {error, detail} on stderr, exit 1; without --json the one-line message', async (t) => {
  const dir = await tempDir(t);
  assert.equal((await runCli(['pki', 'init-ca', '--dir', dir])).code, 0);
  const again = await runCli(['pki', 'init-ca', '--dir', dir, '--json']);
  assert.equal(again.code, 1);
  assert.equal(again.stdout, '');
  const body = json(again.stderr.trim());
  assert.equal(body.error, 'PKI_EXISTS');
  assert.match(String(body.detail), /ca\.key already exists.*--force/);
  assert.doesNotMatch(again.stderr, /\n\s+at /, 'no stack trace');

  const text = await runCli(['pki', 'init-ca', '--dir', dir]);
  assert.equal(text.code, 1);
  assert.match(text.stderr, /^tessera: PKI_EXISTS: /);

  const missing = await runCli([
    'tls',
    'check',
    '--cert',
    join(dir, 'nope.crt'),
    '--key',
    join(dir, 'nope.key'),
    '--ca',
    join(dir, 'ca.crt'),
    '--json',
  ]);
  assert.equal(missing.code, 1);
  assert.equal(json(missing.stderr.trim()).error, 'TLS_FILE_UNREADABLE');
});

test('settings refused by a state command come back as CONFIG_INVALID with --json (audit verify: exit 2, nothing checked)', async (t) => {
  const dir = await tempDir(t);
  const result = await runCli(['audit', 'verify', '--json'], {
    env: {
      TESSERA_DATA_DIR: dir,
      TESSERA_DATABASE_URL: 'mysql://tessera:hunter2-secret@db.example.org/x',
      TESSERA_ENTITY_URI: 'spiffe://x/y',
    },
  });
  assert.equal(result.code, 2);
  const body = json(result.stderr.trim());
  assert.equal(body.error, 'CONFIG_INVALID');
  assert.match(String(body.detail), /TESSERA_DATABASE_URL/);
  assert.doesNotMatch(
    String(body.detail),
    /mysql:\/\/nope/,
    'a database URL is never echoed (it may hold a password)',
  );
});

test('a usage error exits 2', async () => {
  const result = await runCli(['pki', 'init-ca', '--json']);
  assert.equal(result.code, 2);
  assert.match(result.stderr, /required option '--dir <dir>' not specified/);
});
