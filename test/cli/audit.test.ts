// `tessera audit verify | export` as real child processes on a real node database (opened by the test at
// the same time, as a running node would hold it): exit codes 0 intact / 1 broken / 2 nothing checked,
// messages naming the first bad seq, export then offline verification of the file.
import assert from 'node:assert/strict';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { AuditEntry } from '../../src/store/ports/audit.ts';
import { AUDIT_T0, type AuditDb, auditDb, MINUTE, seedAudit } from '../support/audit-log.ts';
import { runCli } from '../support/child.ts';

const N = 12;

describe('tessera audit', () => {
  let intact: AuditDb;
  let broken: AuditDb;
  let entries: AuditEntry[];

  before(async () => {
    [intact, broken] = await Promise.all([auditDb('tessera-audit-cli-'), auditDb('tessera-audit-cli-')]);
    entries = await seedAudit(intact.log, N);
    await seedAudit(broken.log, N);
    broken.sql('UPDATE audit_log SET detail = \'{"i":5,"note":"nothing to see"}\' WHERE seq = 5');
  });
  after(async () => {
    await Promise.all([intact.cleanup(), broken.cleanup()]);
  });

  const last = () => entries[N - 1]!.hash;

  test('verify: an intact log exits 0 with the count and last hash; a tampered one exits 1 naming the seq', async () => {
    const [ok, bad, json] = await Promise.all([
      runCli(['audit', 'verify', '--data-dir', intact.dir]),
      runCli(['audit', 'verify', '--data-dir', broken.dir]),
      runCli(['audit', 'verify', '--data-dir', broken.dir, '--json']),
    ]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(
      ok.stdout,
      new RegExp(`^audit log intact: ${N} entries, last hash ${last()} \\(seq ${N}\\)\n`),
    );
    assert.match(ok.stdout, new RegExp(`--anchor ${N}:${last()}`));
    assert.equal(bad.code, 1, bad.stderr);
    assert.match(bad.stdout, /^audit log BROKEN at seq 5: hash_mismatch\n/);
    assert.match(bad.stdout, /4 entries verified before it/);
    assert.equal(json.code, 1);
    const verdict = JSON.parse(json.stdout);
    assert.equal(verdict.ok, false);
    assert.equal(verdict.first_bad_seq, 5);
    assert.equal(verdict.reason, 'hash_mismatch');
    assert.equal(verdict.verified_count, 4);
    assert.equal(verdict.source, join(broken.dir, 'tessera.db'));
  });

  test('verify --anchor: a log cut after the anchor is BROKEN (truncated); TESSERA_DATA_DIR is honoured', async () => {
    const anchor = `${N}:${last()}`;
    const ok = await runCli(['audit', 'verify', '--anchor', anchor, '--json'], {
      env: { TESSERA_DATA_DIR: intact.dir },
    });
    assert.equal(ok.code, 0, ok.stderr);
    assert.deepEqual(JSON.parse(ok.stdout), {
      source: join(intact.dir, 'tessera.db'),
      ok: true,
      count: N,
      start: { seq: 0, hash: '0'.repeat(64) },
      last_seq: N,
      last_hash: last(),
    });
    const earlier = `${N + 3}:${'a'.repeat(64)}`;
    const cut = await runCli(['audit', 'verify', '--data-dir', intact.dir, '--anchor', earlier]);
    assert.equal(cut.code, 1);
    assert.match(cut.stdout, new RegExp(`^audit log BROKEN at seq ${N + 1}: truncated\n`));
  });

  test('export then verify --file offline; a mid-chain export (--since) verifies from its first prev_hash', async () => {
    const full = join(intact.dir, 'full.jsonl');
    const tail = join(intact.dir, 'tail.jsonl');
    const since = new Date(AUDIT_T0 + 5 * MINUTE).toISOString();
    const [exported, exportedTail] = await Promise.all([
      runCli(['audit', 'export', '--data-dir', intact.dir, '--out', full]),
      runCli(['audit', 'export', '--data-dir', intact.dir, '--out', tail, '--since', since]),
    ]);
    assert.equal(exported.code, 0, exported.stderr);
    assert.match(exported.stdout, new RegExp(`^exported ${N} entries \\(seq 1–${N}\\) to ${full}\n`));
    assert.equal(exportedTail.code, 0, exportedTail.stderr);
    assert.match(exportedTail.stdout, new RegExp(`^exported ${N - 4} entries \\(seq 5–${N}\\) to ${tail}\n`));
    assert.equal((await stat(full)).mode & 0o777, 0o600);

    const [checkFull, checkTail] = await Promise.all([
      runCli(['audit', 'verify', '--file', full]),
      runCli(['audit', 'verify', '--file', tail]),
    ]);
    assert.equal(checkFull.code, 0, checkFull.stderr);
    assert.match(
      checkFull.stdout,
      new RegExp(`^audit log intact: ${N} entries, last hash ${last()} \\(seq ${N}\\)`),
    );
    assert.equal(checkTail.code, 0, checkTail.stderr);
    assert.match(checkTail.stdout, new RegExp(`^audit log intact: ${N - 4} entries, last hash ${last()}`));
    assert.match(
      checkTail.stdout,
      new RegExp(`starts mid-chain at seq 5, after seq 4 with hash ${entries[3]!.hash}`),
    );

    // One edited line of the exported file: broken at that line's seq.
    const lines = (await readFile(full, 'utf8')).split('\n');
    lines[7] = lines[7]!.replace('"entry 8"', '"entry 80"');
    await writeFile(full, lines.join('\n'));
    const edited = await runCli(['audit', 'verify', '--file', full]);
    assert.equal(edited.code, 1);
    assert.match(edited.stdout, /^audit log BROKEN at seq 8: hash_mismatch\n/);
  });

  test('export of a tampered log exits 1 and writes nothing', async () => {
    const out = join(broken.dir, 'audit.jsonl');
    const result = await runCli(['audit', 'export', '--data-dir', broken.dir, '--out', out]);
    assert.equal(result.code, 1);
    assert.match(result.stdout, /audit log BROKEN at seq 5: hash_mismatch/);
    assert.match(result.stdout, /nothing exported/);
    await assert.rejects(stat(out), { code: 'ENOENT' });
  });

  test('nothing to check is exit 2: no database, unreadable file, conflicting or bad options', async () => {
    const missing = join(intact.dir, 'nowhere');
    const results = await Promise.all([
      runCli(['audit', 'verify', '--data-dir', missing]),
      runCli(['audit', 'verify', '--file', join(intact.dir, 'none.jsonl')]),
      runCli(['audit', 'verify', '--data-dir', intact.dir, '--file', join(intact.dir, 'full.jsonl')]),
      runCli(['audit', 'verify', '--data-dir', intact.dir, '--anchor', '5:xyz']),
      runCli([
        'audit',
        'export',
        '--data-dir',
        intact.dir,
        '--out',
        join(intact.dir, 'x.jsonl'),
        '--since',
        'May',
      ]),
    ]);
    const [noDb, noFile, both, badAnchor, badSince] = results;
    for (const r of results) assert.equal(r.code, 2, r.stdout + r.stderr);
    assert.match(
      noDb!.stderr,
      new RegExp(`^tessera: no node database at ${join(missing, 'tessera.db')} \\(ENOENT\\)`),
    );
    // Verifying must not have created a database there.
    await assert.rejects(stat(missing), { code: 'ENOENT' });
    assert.match(noFile!.stderr, /^tessera: cannot read .*none\.jsonl \(ENOENT\)/);
    assert.match(both!.stderr, /give either --data-dir or --file, not both/);
    assert.match(badAnchor!.stderr, /--anchor: an anchor is SEQ:HASH/);
    assert.match(badSince!.stderr, /--since must be an RFC 3339 date-time/);
  });
});
