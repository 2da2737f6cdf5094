// Schema v4 of the SQLite store: revocations re-keyed by (issuer, capability_id), rows and seq kept.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { MIGRATIONS } from '../../src/store/sqlite/migrations.ts';
import { openSqliteStore } from '../../src/store/sqlite/open.ts';
import { revocation } from './contract/records.ts';

test('a v3 database is upgraded to v4: revocation rows and their seq kept, seq never reused, same id per issuer', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'tessera-store-'));
  const file = join(dir, 'tessera.db');
  const a = [1, 2, 3].map((n) => revocation(n));
  const b = revocation(4, 'spiffe://example.org/node/b');
  const db = new Database(file);
  for (const step of MIGRATIONS.slice(0, 3)) db.exec(step);
  db.pragma('user_version = 3');
  const insert = db.prepare(
    `INSERT INTO capability_revocations (capability_id, issuer, expires_at, revoked_at, reason)
     VALUES (@capability_id, @issuer, @expires_at, @revoked_at, @reason)`,
  );
  for (const r of [a[0]!, b, a[1]!, a[2]!, revocation(5)]) insert.run(r);
  // The newest row is gone (as a prune would do): its seq 5 must still never be handed out again.
  db.prepare('DELETE FROM capability_revocations WHERE seq = 5').run();
  db.close();

  const store = await openSqliteStore(file);
  try {
    const check = new Database(file, { readonly: true });
    assert.equal(check.pragma('user_version', { simple: true }), MIGRATIONS.length);
    assert.deepEqual(
      check.prepare('SELECT seq, capability_id FROM capability_revocations ORDER BY seq').all(),
      [
        { seq: 1, capability_id: 'cap-1' },
        { seq: 2, capability_id: 'cap-4' },
        { seq: 3, capability_id: 'cap-2' },
        { seq: 4, capability_id: 'cap-3' },
      ],
    );
    assert.equal(
      check.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'capability_revocations'").pluck().get(),
      5,
      'the high-water mark moved with the table',
    );
    check.close();
    assert.deepEqual((await store.revocationPage({ limit: 10 })).revocations, [a[0], b, a[1], a[2]]);
    assert.deepEqual(await store.getRevocation(b.issuer, 'cap-4'), b);
    // The id of a's cap-1 under another issuer is a different record now; seq 5 is not handed out again.
    const other = revocation(1, 'spiffe://example.org/node/c');
    assert.equal(await store.addRevocation(other), true);
    const page = await store.revocationPage({ after: '4', limit: 10 });
    assert.deepEqual(page.revocations, [other]);
    assert.equal(page.cursor, '6');
    assert.equal(await store.addRevocation(a[0]!), false, 'a kept row still counts as revoked');
  } finally {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  }
});
