// `tessera identity rotate-key` and `tessera tlog verify` as real child processes on a real data dir:
// what they print, what they write (nothing on a dry run), their refusals and exit codes, and the first
// broken index of an edited, a shortened or a truncated log.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { verifyManifest } from '../../src/node/features/identity/manifest.ts';
import { loadOrCreateNodeKey } from '../../src/node/features/identity/node-key.ts';
import { readTlog, tlogPath } from '../../src/node/features/rotation/tlog.ts';
import { runCli } from '../support/child.ts';
import { tempDir } from '../support/pki.ts';

async function snapshot(dir: string): Promise<Record<string, string>> {
  const files: Record<string, string> = {};
  for (const name of (await readdir(dir)).sort()) files[name] = await readFile(join(dir, name), 'utf8');
  return files;
}

const ENTITY = 'spiffe://test.example/node/a';

test('rotate-key --kind node: the tutorial lines, both log indexes real; TESSERA_DATA_DIR is the default; --json', async (t) => {
  const dir = await tempDir(t);
  const old = await loadOrCreateNodeKey({ dataDir: dir });
  const issuer = await loadOrCreateNodeKey({ dataDir: dir, fileName: 'issuer-key.pem' });
  const run = await runCli(['identity', 'rotate-key', '--kind', 'node', '--dual-trust-days', '3'], {
    env: { TESSERA_DATA_DIR: dir, TESSERA_ENTITY_URI: ENTITY },
  });
  assert.equal(run.code, 0, run.stderr);
  const current = await loadOrCreateNodeKey({ dataDir: dir });
  assert.notEqual(current.keyId, old.keyId);
  assert.match(run.stdout, /^Key rotation \(node\) complete$/m);
  assert.match(run.stdout, new RegExp(`^old key_id : ${old.keyId}$`, 'm'));
  assert.match(run.stdout, new RegExp(`^new key_id : ${current.keyId}$`, 'm'));
  assert.match(run.stdout, /^dual-trust : \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/m);
  assert.match(run.stdout, /^manifest TL index : 0$/m);
  assert.match(run.stdout, /^rotation TL index : 1$/m);
  assert.doesNotMatch(run.stdout, /ACTION REQUIRED/, 'a data dir key needs no secret update');
  const [manifest, rotation] = await readTlog(tlogPath(dir));
  assert.equal(rotation?.kind, 'rotation');
  const served = verifyManifest(manifest?.payload, { now: new Date(), expectedEntityUri: ENTITY });
  assert.equal(served.key_id, current.keyId, 'the logged manifest is signed by the new key');
  assert.equal(served.issuer_key_id, issuer.keyId);
  assert.deepEqual(served.rotation_events, [rotation?.payload]);

  const json = await runCli(['identity', 'rotate-key', '--kind', 'node', '--data-dir', dir, '--json'], {
    env: { TESSERA_ENTITY_URI: ENTITY },
  });
  assert.equal(json.code, 0, json.stderr);
  const result = JSON.parse(json.stdout);
  assert.equal(result.old_key_id, current.keyId);
  assert.deepEqual([result.manifest_tl_index, result.rotation_tl_index, result.tlog_index], [2, 3, 3]);
  assert.equal(result.key_source, 'data-dir');
  assert.equal(result.new_private_key, undefined);
  assert.equal(result.event.signature.length, 86);
  assert.equal(Date.parse(result.dual_trust_until) - Date.parse(result.rotated_at), 7 * 86_400_000);
  assert.equal((await readTlog(tlogPath(dir))).length, 4);
  assert.doesNotMatch(json.stdout + json.stderr, /PRIVATE KEY/);
});

test('rotate-key --dry-run writes nothing; issuer under 90 days, a missing key and a key file given by path are refused with codes', async (t) => {
  const dir = await tempDir(t);
  await loadOrCreateNodeKey({ dataDir: dir });
  await loadOrCreateNodeKey({ dataDir: dir, fileName: 'issuer-key.pem' });
  const env = { TESSERA_ENTITY_URI: ENTITY };
  const before = await snapshot(dir);
  const dry = await runCli(['identity', 'rotate-key', '--kind', 'issuer', '--dry-run', '--data-dir', dir], {
    env,
  });
  assert.equal(dry.code, 0, dry.stderr);
  assert.match(dry.stdout, /^DRY RUN — nothing was written/m);
  assert.match(dry.stdout, /^Key rotation \(issuer\) checked$/m);
  assert.match(dry.stdout, /^manifest TL index : 0 \(would be\)$/m);
  assert.match(dry.stdout, /^rotation TL index : 1 \(would be\)$/m);
  assert.deepEqual(await snapshot(dir), before);

  const short = await runCli(
    ['identity', 'rotate-key', '--kind', 'issuer', '--dual-trust-days', '30', '--data-dir', dir],
    { env },
  );
  assert.equal(short.code, 1);
  assert.match(short.stderr, /^tessera: dual_trust_too_short: .*at least 90 days.*got 30\n$/);
  assert.deepEqual(await snapshot(dir), before);

  const empty = await tempDir(t);
  const missing = await runCli(['identity', 'rotate-key', '--kind', 'node', '--data-dir', empty], { env });
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /^tessera: key_missing: no node key at .*node-key\.pem/);

  const fixed = await runCli(['identity', 'rotate-key', '--kind', 'node', '--data-dir', dir], {
    env: { ...env, TESSERA_NODE_KEY_PATH: join(dir, 'node-key.pem') },
  });
  assert.equal(fixed.code, 1);
  assert.match(fixed.stderr, /^tessera: key_fixed: the node key is the file .*TESSERA_NODE_KEY_PATH/);
  assert.deepEqual(await snapshot(dir), before);
});

test('rotate-key with the key in TESSERA_ISSUER_PRIVATE_KEY --json: the new seed only in new_private_key, once; nothing on stderr', async (t) => {
  const dir = await tempDir(t);
  await loadOrCreateNodeKey({ dataDir: dir });
  const seed = randomBytes(32).toString('base64url');
  const run = await runCli(['identity', 'rotate-key', '--kind', 'issuer', '--data-dir', dir, '--json'], {
    env: { TESSERA_ENTITY_URI: ENTITY, TESSERA_ISSUER_PRIVATE_KEY: seed },
  });
  assert.equal(run.code, 0, run.stderr);
  assert.equal(run.stderr, '');
  const result = JSON.parse(run.stdout);
  assert.equal(result.key_source, 'secret');
  assert.equal(result.secret_variable, 'TESSERA_ISSUER_PRIVATE_KEY');
  const fresh = await loadOrCreateNodeKey({ dataDir: '', privateKeyB64: result.new_private_key });
  assert.equal(fresh.keyId, result.new_key_id, 'the seed printed is the new key');
  assert.equal(run.stdout.split(result.new_private_key).length, 2, 'printed exactly once');
  assert.ok(!run.stdout.includes(seed), 'the old seed is never printed');
  assert.deepEqual(
    (await readdir(dir)).sort(),
    ['node-key.pem', 'tlog.jsonl'],
    'no issuer key file: a secret stays a secret',
  );
});

test('tlog verify: intact → 0 and an anchor; an edited line, a deleted line, a cut-off end → 1 naming the index', async (t) => {
  const dir = await tempDir(t);
  await loadOrCreateNodeKey({ dataDir: dir });
  await loadOrCreateNodeKey({ dataDir: dir, fileName: 'issuer-key.pem' });
  const missing = await runCli(['tlog', 'verify', '--data-dir', dir]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /tessera: tlog_missing: no transparency log at /);
  for (let i = 0; i < 3; i++) {
    const r = await runCli(['identity', 'rotate-key', '--kind', 'node', '--data-dir', dir], {
      env: { TESSERA_ENTITY_URI: ENTITY },
    });
    assert.equal(r.code, 0, r.stderr);
  }
  const ok = await runCli(['tlog', 'verify', '--data-dir', dir]);
  assert.equal(ok.code, 0, ok.stderr);
  // Each rotation logs the new manifest, then the event.
  assert.match(ok.stdout, /tlog OK: .*: 6 entries/);
  const anchor = /anchor (5:[0-9a-f]{64})/.exec(ok.stdout)?.[1];
  assert.ok(anchor);

  const original = await readFile(tlogPath(dir), 'utf8');
  const lines = original.trimEnd().split('\n');
  const copy = join(dir, 'copy.jsonl');

  // Edited: index 1 (a rotation event) says the window is longer than what was signed.
  const edited = JSON.parse(lines[1]!);
  assert.equal(edited.kind, 'rotation');
  edited.payload.dual_trust_until = '2999-01-01T00:00:00.000Z';
  await writeFile(copy, `${[lines[0], JSON.stringify(edited), ...lines.slice(2)].join('\n')}\n`);
  const bad = await runCli(['tlog', 'verify', '--file', copy]);
  assert.equal(bad.code, 1);
  assert.match(bad.stdout, /first bad index 1 \(hash_mismatch\)/);
  assert.match(bad.stderr, /^tessera: tlog_broken: index 1: hash_mismatch: /);

  // Deleted: the line of index 1 is gone.
  await writeFile(copy, `${[lines[0], ...lines.slice(2)].join('\n')}\n`);
  const gap = await runCli(['tlog', 'verify', '--file', copy, '--json']);
  assert.equal(gap.code, 1);
  assert.deepEqual(
    (({ ok, firstBadIndex, reason, count }) => ({ ok, firstBadIndex, reason, count }))(
      JSON.parse(gap.stdout),
    ),
    { ok: false, firstBadIndex: 1, reason: 'index_gap', count: 1 },
  );

  // Cut off at the end: a valid chain, but not the one the anchor saw.
  await writeFile(copy, `${lines.slice(0, 4).join('\n')}\n`);
  assert.equal(
    (await runCli(['tlog', 'verify', '--file', copy])).code,
    0,
    'without an anchor it cannot tell',
  );
  const cut = await runCli(['tlog', 'verify', '--file', copy, '--anchor', anchor]);
  assert.equal(cut.code, 1);
  assert.match(cut.stderr, /index 4: truncated/);
});
