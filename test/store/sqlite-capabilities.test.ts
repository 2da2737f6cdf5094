// Schema v3/v4 in the SQLite store: peer key history (upsert, prune, cascade), issued capabilities, and the
// revocation feed (idempotent per issuer and id, cursor paging, issuer filter) across reopen, and the v4
// upgrade of a v3 revocation table.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import type { RevocationRecord } from '../../src/store/ports/capabilities.ts';
import type { PeerKeyRecord } from '../../src/store/ports/peer-keys.ts';
import { MIGRATIONS } from '../../src/store/sqlite/migrations.ts';
import { openSqliteStore } from '../../src/store/sqlite/open.ts';
import { peer, tempStore } from './fixtures.ts';

function revocation(n: number, issuer = 'spiffe://example.org/node/a'): RevocationRecord {
  return {
    capability_id: `cap-${n}`,
    issuer,
    expires_at: '2030-03-01T00:00:00.000Z',
    revoked_at: `2030-01-01T00:00:${String(n).padStart(2, '0')}.000Z`,
    reason: n % 2 === 0 ? null : `reason ${n}`,
  };
}

test('peer keys: upsert by (peer, kind, key id), list per peer, prune by not_after', async () => {
  const t = await tempStore();
  try {
    const p = peer();
    await t.store.addPeer(p);
    const old: PeerKeyRecord = {
      peerId: p.id,
      kind: 'node',
      keyId: '0123456789abcdef',
      publicKey: 'A'.repeat(43),
      notAfter: '2030-01-08T00:00:00.000Z',
      addedAt: '2030-01-01T00:00:00.000Z',
    };
    const issuer: PeerKeyRecord = { ...old, kind: 'issuer', keyId: 'fedcba9876543210', notAfter: null };
    await t.store.putPeerKey(old);
    await t.store.putPeerKey(issuer);
    await t.store.putPeerKey({ ...old, notAfter: '2030-01-09T00:00:00.000Z' });
    assert.deepEqual(await t.store.listPeerKeys(p.id), [
      issuer,
      { ...old, notAfter: '2030-01-09T00:00:00.000Z' },
    ]);
    assert.deepEqual(await t.store.listPeerKeys('nobody'), []);
    await assert.rejects(t.store.putPeerKey({ ...old, peerId: 'nobody' }), {
      name: 'StoreInputError',
      code: 'unknown_peer',
    });

    assert.equal(await t.store.prunePeerKeys('2030-01-09T00:00:00.000Z'), 0, 'not_after is exclusive');
    assert.equal(await t.store.prunePeerKeys('2030-01-10T00:00:00.000Z'), 1);
    assert.deepEqual(await t.store.listPeerKeys(), [issuer], 'a key without end is never pruned');

    const store = await t.reopen();
    assert.deepEqual(await store.listPeerKeys(), [issuer]);
  } finally {
    await t.cleanup();
  }
});

test('capabilities: add and get; a duplicate id is refused', async () => {
  const t = await tempStore();
  try {
    const cap = {
      id: 'c1',
      issuer: 'spiffe://example.org/node/a',
      subject: 'spiffe://example.org/agent/x',
      verb: 'read',
      object: 'facts:team/x',
      keyId: '0123456789abcdef',
      issuedAt: '2030-01-01T00:00:00.000Z',
      expiresAt: '2030-02-01T00:00:00.000Z',
    };
    await t.store.addCapability(cap);
    assert.deepEqual(await t.store.getCapability('c1'), cap);
    assert.equal(await t.store.getCapability('c2'), null);
    await assert.rejects(t.store.addCapability(cap), { name: 'StoreInputError', code: 'invalid_record' });
  } finally {
    await t.cleanup();
  }
});

test('revocations: first record wins, paged in insertion order, issuer filter, cursor never goes back', async () => {
  const t = await tempStore();
  try {
    assert.deepEqual(await t.store.revocationPage({ limit: 10 }), {
      revocations: [],
      cursor: '0',
      more: false,
    });
    const a = [1, 2, 3, 4, 5].map((n) => revocation(n));
    const b = revocation(9, 'spiffe://example.org/node/b');
    for (const r of [a[0]!, a[1]!, b, a[2]!, a[3]!, a[4]!])
      assert.equal(await t.store.addRevocation(r), true);
    assert.equal(await t.store.addRevocation({ ...a[0]!, reason: 'again' }), false);
    assert.deepEqual(await t.store.getRevocation(a[0]!.issuer, 'cap-1'), a[0]);
    assert.equal(await t.store.getRevocation(a[0]!.issuer, 'cap-0'), null);

    const first = await t.store.revocationPage({ limit: 2, issuer: a[0]!.issuer });
    assert.deepEqual(first.revocations, [a[0], a[1]]);
    assert.equal(first.more, true);
    const second = await t.store.revocationPage({ after: first.cursor, limit: 2, issuer: a[0]!.issuer });
    assert.deepEqual(second.revocations, [a[2], a[3]]);
    const third = await t.store.revocationPage({ after: second.cursor, limit: 2, issuer: a[0]!.issuer });
    assert.deepEqual(third.revocations, [a[4]]);
    assert.equal(third.more, false);
    assert.equal(third.cursor, '6', 'the last page moves the cursor to the newest row');
    const none = await t.store.revocationPage({ after: third.cursor, limit: 2 });
    assert.deepEqual(none, { revocations: [], cursor: '6', more: false });
    assert.deepEqual((await t.store.revocationPage({ limit: 10 })).revocations, [
      a[0],
      a[1],
      b,
      a[2],
      a[3],
      a[4],
    ]);
    await assert.rejects(t.store.revocationPage({ after: 'x', limit: 1 }), { code: 'invalid_cursor' });

    const store = await t.reopen();
    assert.deepEqual(await store.getRevocation(b.issuer, 'cap-9'), b);
  } finally {
    await t.cleanup();
  }
});

test('revocations are keyed by (issuer, id): another issuer using the same id neither blocks nor replaces it', async () => {
  const t = await tempStore();
  try {
    const squat = revocation(1, 'spiffe://example.org/node/c');
    const real = revocation(1);
    assert.equal(await t.store.addRevocation(squat), true);
    assert.equal(await t.store.addRevocation(real), true, 'the issuer record is stored next to it');
    assert.equal(await t.store.addRevocation({ ...real, reason: 'again' }), false);
    assert.deepEqual(await t.store.getRevocation(real.issuer, 'cap-1'), real);
    assert.deepEqual(await t.store.getRevocation(squat.issuer, 'cap-1'), squat);
    assert.equal(await t.store.getRevocation('spiffe://example.org/node/x', 'cap-1'), null);
    const page = await t.store.revocationPage({ limit: 10, issuer: real.issuer });
    assert.deepEqual(page.revocations, [real]);
  } finally {
    await t.cleanup();
  }
});

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
