// AuditLog over a real SQLite file: recorded entries form a chain that verifies; rows edited, deleted or
// reordered directly in SQLite (better-sqlite3, bypassing the store) make verification name exactly the
// first bad seq; secrets never reach a stored detail; a failed write is logged and counted.
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { after, test } from 'node:test';
import { AuditLog, AuditWriteError } from '../../../src/node/features/audit/audit-log.ts';
import { auditHash, verifyChain } from '../../../src/node/features/audit/chain.ts';
import { storeAuditEntries } from '../../../src/node/features/audit/sources.ts';
import type { AuditEntry } from '../../../src/store/ports/audit.ts';
import {
  AUDIT_T0,
  type AuditDb,
  auditDb,
  MINUTE,
  recordingLogger,
  seedAudit,
  steppingClock,
  swapSeq,
} from '../../support/audit-log.ts';

const N = 40;
const dbs: AuditDb[] = [];

async function seeded(n = N): Promise<{ db: AuditDb; entries: AuditEntry[] }> {
  const db = await auditDb();
  dbs.push(db);
  return { db, entries: await seedAudit(db.log, n) };
}

/** Verifies what is in the database now, read through the store like `tessera audit verify` does. */
const verifyDb = (db: AuditDb, pageSize?: number) =>
  verifyChain(storeAuditEntries(db.store, 0, pageSize), {});

async function assertBroken(db: AuditDb, seq: number, reason: string): Promise<void> {
  // Small pages as well as one big one: the first bad seq must not depend on where a page ends.
  for (const pageSize of [7, 1000]) {
    const result = await verifyDb(db, pageSize);
    assert.ok(!result.ok, `expected broken at ${seq} (page ${pageSize})`);
    assert.equal(result.firstBadSeq, seq, result.detail);
    assert.equal(result.reason, reason, result.detail);
  }
}

after(async () => {
  for (const db of dbs) await db.cleanup();
});

test('recorded entries are stored as a chain of seq 1..N that verifies', async () => {
  const { db, entries } = await seeded();
  assert.deepEqual(
    entries.map((e) => e.seq),
    Array.from({ length: N }, (_, i) => i + 1),
  );
  assert.equal(entries[0]!.prev_hash, '0'.repeat(64));
  assert.equal(entries[0]!.ts, new Date(AUDIT_T0 + MINUTE).toISOString());
  for (const entry of entries) assert.equal(entry.hash, auditHash(entry));
  for (const pageSize of [7, 1000]) {
    const result = await verifyDb(db, pageSize);
    assert.deepEqual(result, {
      ok: true,
      count: N,
      start: { seq: 0, hash: '0'.repeat(64) },
      lastSeq: N,
      lastHash: entries[N - 1]!.hash,
    });
  }
});

test('UPDATE of detail, ts, event_type or principal of row k: broken at k (hash_mismatch)', async () => {
  const edits: [string, unknown][] = [
    ['UPDATE audit_log SET detail = \'{"i":999}\' WHERE seq = ?', 17],
    ["UPDATE audit_log SET ts = '2026-01-01T00:00:00.000Z' WHERE seq = ?", 9],
    ["UPDATE audit_log SET event_type = 'fact_write' WHERE seq = ?", 23],
    ['UPDATE audit_log SET principal = NULL WHERE seq = ?', 40],
    ["UPDATE audit_log SET detail = json_set(detail, '$.note', 'x') WHERE seq = ?", 1],
  ];
  for (const [statement, seq] of edits) {
    const { db } = await seeded();
    db.sql(statement, seq);
    await assertBroken(db, seq as number, 'hash_mismatch');
  }
});

test('an edited row whose hash was recomputed is caught at the next row (prev_hash_mismatch)', async () => {
  const { db, entries } = await seeded();
  const forged = { ...entries[11]!, detail: { i: 12, note: 'nothing happened' } };
  db.sql(
    'UPDATE audit_log SET detail = ?, hash = ? WHERE seq = 12',
    JSON.stringify(forged.detail),
    auditHash(forged),
  );
  await assertBroken(db, 13, 'prev_hash_mismatch');
});

test('DELETE of row k: broken at k (seq_gap); also the first row', async () => {
  for (const seq of [20, 1, 7]) {
    const { db } = await seeded();
    db.sql('DELETE FROM audit_log WHERE seq = ?', seq);
    await assertBroken(db, seq, 'seq_gap');
  }
});

test('DELETE of row k and renumbering the later rows: broken at k (hash_mismatch)', async () => {
  const { db } = await seeded();
  db.sql('DELETE FROM audit_log WHERE seq = 15');
  // Ascending, one row at a time, so the primary key never collides.
  for (let seq = 16; seq <= N; seq++) db.sql('UPDATE audit_log SET seq = seq - 1 WHERE seq = ?', seq);
  await assertBroken(db, 15, 'hash_mismatch');
});

test('swapping the seq values of two rows: broken at the smaller seq', async () => {
  for (const [a, b] of [
    [5, 30],
    [10, 11],
  ] as const) {
    const { db } = await seeded();
    swapSeq(db, a, b);
    await assertBroken(db, a, 'hash_mismatch');
  }
});

test('a detail edited into non-JSON is malformed at that seq, even mid-page', async () => {
  const { db } = await seeded();
  db.sql("UPDATE audit_log SET detail = '{not json' WHERE seq = 26");
  await assertBroken(db, 26, 'malformed');
  const result = await verifyDb(db);
  assert.ok(!result.ok);
  assert.match(result.detail, /row after seq 25 cannot be read/);
});

test('the truncated tail is not visible without an anchor, and is with one', async () => {
  const { db, entries } = await seeded();
  const anchor = { seq: N, hash: entries[N - 1]!.hash };
  db.sql('DELETE FROM audit_log WHERE seq > 33');
  assert.equal((await verifyDb(db)).ok, true);
  const result = await verifyChain(storeAuditEntries(db.store), { anchor });
  assert.ok(!result.ok);
  assert.equal(result.reason, 'truncated');
  assert.equal(result.firstBadSeq, 34);
});

test('secrets are scrubbed from detail before it is hashed and stored', async () => {
  const { db } = await seeded(0);
  const token = `tsk_abc123_${'s'.repeat(40)}`;
  const jwt = 'eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl';
  const entry = await db.log.record('api_key_created', 'user:admin', {
    key_id: 'abc123',
    api_key: token,
    apiKey: token,
    secret: 's3cr3t',
    client_secret: 's3cr3t',
    password: 'hunter2',
    Authorization: 'Bearer xyz',
    headers: { authorization: 'Bearer xyz', 'x-request-id': 'r1' },
    privateKeyPem: '-----BEGIN PRIVATE KEY-----\nMC4CAQ\n-----END PRIVATE KEY-----',
    access_token: jwt,
    refresh_token: 'r',
    nested: [{ token: 't' }, { note: `presented ${token}` }],
    reason: `client sent Bearer ${jwt} with ${token}`,
    public_key: 'MCowBQYDK2VwAyEA',
    fingerprint: 'sha256:abcd',
    token_type: 'bearer',
    permissions: ['read', 'audit.read'],
    missing: undefined,
  });
  const expected = {
    key_id: 'abc123',
    api_key: '[redacted]',
    apiKey: '[redacted]',
    secret: '[redacted]',
    client_secret: '[redacted]',
    password: '[redacted]',
    Authorization: '[redacted]',
    headers: { authorization: '[redacted]', 'x-request-id': 'r1' },
    privateKeyPem: '[redacted]',
    access_token: '[redacted]',
    refresh_token: '[redacted]',
    nested: [{ token: '[redacted]' }, { note: 'presented tsk_abc123_[redacted]' }],
    reason: 'client sent Bearer [redacted] with tsk_abc123_[redacted]',
    public_key: 'MCowBQYDK2VwAyEA',
    fingerprint: 'sha256:abcd',
    token_type: 'bearer',
    permissions: ['read', 'audit.read'],
  };
  assert.deepEqual(entry.detail, expected);
  const [stored] = await db.store.auditRange(0, 10);
  assert.deepEqual(stored!.detail, expected);
  const text = JSON.stringify(stored);
  for (const secret of ['s3cr3t', 'hunter2', 'xyz', 'MC4CAQ', 'ssssssss', 'c2lnbmF0dXJl'])
    assert.ok(!text.includes(secret), `stored entry contains ${secret}`);
  assert.equal((await verifyDb(db)).ok, true);
});

test('a secret-looking principal and oversized details are cut down; non-JSON values settled', async () => {
  const { db } = await seeded(0);
  const entry = await db.log.record('auth_failed', `tsk_k1_${'x'.repeat(30)}`, {
    long: 'a'.repeat(5000),
    when: new Date(AUDIT_T0),
    big: 10n,
    neg: -0,
    inf: Number.POSITIVE_INFINITY,
    err: new Error('boom'),
    fn: () => 1,
  });
  assert.equal(entry.principal, 'tsk_k1_[redacted]');
  assert.equal((entry.detail.long as string).length, 2048 + '…[truncated]'.length);
  assert.equal(entry.detail.when, new Date(AUDIT_T0).toISOString());
  assert.equal(entry.detail.big, '10');
  assert.equal(entry.detail.neg, 0);
  assert.equal(entry.detail.inf, null);
  assert.deepEqual(entry.detail.err, { name: 'Error', message: 'boom' });
  assert.equal('fn' in entry.detail, false);
  assert.equal((await verifyDb(db)).ok, true);
});

test('concurrent records still form one gapless chain', async () => {
  const { db } = await seeded(0);
  await Promise.all(Array.from({ length: 30 }, (_, i) => db.log.record('fact_write', `user:${i}`, { i })));
  const result = await verifyDb(db);
  assert.ok(result.ok);
  assert.equal(result.count, 30);
});

test('record({tx}) commits and rolls back with the caller', async () => {
  const { db } = await seeded(3);
  await assert.rejects(
    db.store.tx(async (tx) => {
      await db.log.record('api_key_created', 'user:admin', { key_id: 'k1' }, { tx });
      throw new Error('the action failed');
    }),
    /the action failed/,
  );
  assert.equal((await db.store.auditRange(0, 100)).length, 3);
  await db.store.tx(async (tx) => {
    await db.log.record('api_key_created', 'user:admin', { key_id: 'k2' }, { tx });
  });
  const entries = await db.store.auditRange(0, 100);
  assert.deepEqual(entries[3]?.detail, { key_id: 'k2' });
  assert.equal((await verifyDb(db)).ok, true);
});

test('a failed write is logged and counted: record() rejects, note() resolves null', async () => {
  const db = await auditDb();
  const logger = recordingLogger();
  const counted: string[] = [];
  const log = new AuditLog({
    store: db.store,
    clock: steppingClock(),
    logger,
    onWriteFailure: (eventType) => counted.push(eventType),
  });
  await db.store.close();
  const error = await log.record('api_key_revoked', 'user:admin', { key_id: 'k', secret: 'nope' }).then(
    () => assert.fail('record() resolved on a closed store'),
    (e: unknown) => e,
  );
  assert.ok(error instanceof AuditWriteError);
  assert.equal(error.code, 'audit_write_failed');
  assert.equal(error.eventType, 'api_key_revoked');
  assert.equal(await log.note('api_key_revoked', 'user:admin', {}), null);
  assert.deepEqual(counted, ['api_key_revoked', 'api_key_revoked']);
  const errors = logger.lines.filter((l) => l.level === 'error');
  assert.equal(errors.length, 2);
  assert.deepEqual(
    { ...errors[0]!.obj, reason: undefined },
    {
      event: 'audit_write_failed',
      event_type: 'api_key_revoked',
      principal: 'user:admin',
      reason: undefined,
    },
  );
  assert.ok(!JSON.stringify(logger.lines).includes('nope'), 'the detail is not logged');
  // The store is closed already; cleanup must not close it twice.
  await rm(db.dir, { recursive: true, force: true });
});

test('an unknown event type is refused as a failed write', async () => {
  const { db } = await seeded(0);
  await assert.rejects(
    db.log.record('made_up' as 'fact_write', null, {}),
    (e: unknown) => e instanceof AuditWriteError && /unknown audit event type made_up/.test(e.message),
  );
  assert.equal((await db.store.auditRange(0, 10)).length, 0);
});
