// `tessera identity rotate-key` and `tessera tlog verify` as real child processes on a real data dir:
// what they print, what they write (nothing on a dry run), their refusals and exit codes, and the first
// broken index of an edited, a shortened or a truncated log.
import assert from 'node:assert/strict';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadOrCreateNodeKey } from '../../src/node/features/identity/node-key.ts';
import { readTlog, tlogPath } from '../../src/node/features/rotation/tlog.ts';
import { runCli } from '../support/child.ts';
import { tempDir } from '../support/pki.ts';

async function snapshot(dir: string): Promise<Record<string, string>> {
  const files: Record<string, string> = {};
  for (const name of (await readdir(dir)).sort()) files[name] = await readFile(join(dir, name), 'utf8');
  return files;
}

test('rotate-key --kind node: prints old/new key ids, expiry and tlog index; TESSERA_DATA_DIR is the default', async (t) => {
  const dir = await tempDir(t);
  const old = await loadOrCreateNodeKey({ dataDir: dir });
  const run = await runCli(['identity', 'rotate-key', '--kind', 'node', '--dual-trust-days', '3'], {
    env: { TESSERA_DATA_DIR: dir },
  });
  assert.equal(run.code, 0, run.stderr);
  const current = await loadOrCreateNodeKey({ dataDir: dir });
  assert.notEqual(current.keyId, old.keyId);
  assert.match(run.stdout, new RegExp(`old key_id\\s+${old.keyId}  ${old.fingerprint}`));
  assert.match(run.stdout, new RegExp(`new key_id\\s+${current.keyId}`));
  assert.match(run.stdout, /dual trust\s+old key accepted until \d{4}-\d\d-\d\dT/);
  assert.match(run.stdout, /tlog index\s+0\n/);

  const json = await runCli(['identity', 'rotate-key', '--kind', 'node', '--data-dir', dir, '--json']);
  assert.equal(json.code, 0, json.stderr);
  const result = JSON.parse(json.stdout);
  assert.equal(result.old_key_id, current.keyId);
  assert.equal(result.tlog_index, 1);
  assert.equal(result.event.signature.length, 86);
  assert.equal(Date.parse(result.dual_trust_until) - Date.parse(result.rotated_at), 7 * 86_400_000);
  assert.equal((await readTlog(tlogPath(dir))).length, 2);
  assert.doesNotMatch(json.stdout + json.stderr, /PRIVATE KEY/);
});

test('rotate-key --dry-run writes nothing; issuer under 90 days and a missing key are refused with codes', async (t) => {
  const dir = await tempDir(t);
  await loadOrCreateNodeKey({ dataDir: dir, fileName: 'issuer-key.pem' });
  const before = await snapshot(dir);
  const dry = await runCli(['identity', 'rotate-key', '--kind', 'issuer', '--dry-run', '--data-dir', dir]);
  assert.equal(dry.code, 0, dry.stderr);
  assert.match(dry.stdout, /DRY RUN: nothing was written/);
  assert.match(dry.stdout, /tlog index\s+0 \(would be\)/);
  assert.deepEqual(await snapshot(dir), before);

  const short = await runCli([
    'identity',
    'rotate-key',
    '--kind',
    'issuer',
    '--dual-trust-days',
    '30',
    '--data-dir',
    dir,
  ]);
  assert.equal(short.code, 1);
  assert.match(short.stderr, /^tessera: dual_trust_too_short: .*at least 90 days.*got 30\n$/);
  assert.deepEqual(await snapshot(dir), before);

  const missing = await runCli(['identity', 'rotate-key', '--kind', 'node', '--data-dir', dir]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /^tessera: key_missing: no node key at .*node-key\.pem/);
});

test('tlog verify: intact → 0 and an anchor; an edited line, a deleted line, a cut-off end → 1 naming the index', async (t) => {
  const dir = await tempDir(t);
  await loadOrCreateNodeKey({ dataDir: dir });
  const missing = await runCli(['tlog', 'verify', '--data-dir', dir]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /tessera: tlog_missing: no transparency log at /);
  for (let i = 0; i < 3; i++) {
    const r = await runCli(['identity', 'rotate-key', '--kind', 'node', '--data-dir', dir]);
    assert.equal(r.code, 0, r.stderr);
  }
  const ok = await runCli(['tlog', 'verify', '--data-dir', dir]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /tlog OK: .*: 3 entries/);
  const anchor = /anchor (2:[0-9a-f]{64})/.exec(ok.stdout)?.[1];
  assert.ok(anchor);

  const original = await readFile(tlogPath(dir), 'utf8');
  const lines = original.trimEnd().split('\n');
  const copy = join(dir, 'copy.jsonl');

  // Edited: index 1's payload says the window is longer than what was signed.
  const edited = JSON.parse(lines[1]!);
  edited.payload.dual_trust_until = '2999-01-01T00:00:00.000Z';
  await writeFile(copy, `${[lines[0], JSON.stringify(edited), lines[2]].join('\n')}\n`);
  const bad = await runCli(['tlog', 'verify', '--file', copy]);
  assert.equal(bad.code, 1);
  assert.match(bad.stdout, /first bad index 1 \(hash_mismatch\)/);
  assert.match(bad.stderr, /^tessera: tlog_broken: index 1: hash_mismatch: /);

  // Deleted: the line of index 1 is gone.
  await writeFile(copy, `${[lines[0], lines[2]].join('\n')}\n`);
  const gap = await runCli(['tlog', 'verify', '--file', copy, '--json']);
  assert.equal(gap.code, 1);
  assert.deepEqual(
    (({ ok, firstBadIndex, reason, count }) => ({ ok, firstBadIndex, reason, count }))(
      JSON.parse(gap.stdout),
    ),
    { ok: false, firstBadIndex: 1, reason: 'index_gap', count: 1 },
  );

  // Cut off at the end: a valid chain, but not the one the anchor saw.
  await writeFile(copy, `${[lines[0], lines[1]].join('\n')}\n`);
  assert.equal(
    (await runCli(['tlog', 'verify', '--file', copy])).code,
    0,
    'without an anchor it cannot tell',
  );
  const cut = await runCli(['tlog', 'verify', '--file', copy, '--anchor', anchor]);
  assert.equal(cut.code, 1);
  assert.match(cut.stderr, /index 2: truncated/);
});
