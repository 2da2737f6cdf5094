// ApiKeys over a real SQLite store: what a verification costs (counted scrypt calls, not timing), the
// refusal reason of each bad case, the cache, and that nothing but a hash of the secret is ever stored.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, describe, test } from 'node:test';
import { newToken } from '../../../src/node/features/auth/api-key-token.ts';
import { ApiKeys } from '../../../src/node/features/auth/api-keys.ts';
import { openSqliteStore } from '../../../src/store/sqlite/open.ts';
import type { Store } from '../../../src/store/store.ts';
import { countingDerive, manualClock } from '../../support/node-app.ts';
import { tempDir } from '../../support/pki.ts';

describe('ApiKeys', () => {
  let dir: string;
  let store: Store;
  const time = manualClock();
  const counter = countingDerive();
  let keys: ApiKeys;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tessera-api-keys-'));
    store = await openSqliteStore(join(dir, 'tessera.db'));
    keys = new ApiKeys({ store, clock: time.clock, derive: counter.derive, cacheTtlMs: 60_000 });
    // Many stored keys: a bad token must still cost one hash, not one per key.
    for (let i = 0; i < 20; i++)
      await keys.create({ entityUri: `urn:test:filler/${i}`, permissions: ['read'] });
  });
  after(async () => {
    await store?.close();
    await rm(dir, { recursive: true, force: true });
  });
  beforeEach(() => counter.reset());

  test('a created key verifies to its principal; only a scrypt hash of the secret is stored', async () => {
    const { key, token } = await keys.create({
      entityUri: 'spiffe://example.org/agent/writer',
      permissions: ['write', 'read', 'write'],
      description: 'ingest job',
    });
    assert.equal(counter.calls(), 1, 'one scrypt to hash');
    assert.deepEqual(key.permissions, ['read', 'write'], 'deduplicated, in canonical order');
    assert.equal('secretHash' in key, false);
    assert.equal(token.slice(4, 16), key.id);
    const result = await keys.verify(token);
    assert.deepEqual(result, {
      ok: true,
      principal: {
        keyId: key.id,
        entityUri: 'spiffe://example.org/agent/writer',
        permissions: ['read', 'write'],
      },
    });
    const stored = await store.getApiKey(key.id);
    assert.match(stored?.secretHash ?? '', /^scrypt\$16384\$8\$1\$/);
    const secret = token.slice(17);
    await store.close();
    store = await openSqliteStore(join(dir, 'tessera.db'));
    keys = new ApiKeys({ store, clock: time.clock, derive: counter.derive });
    for (const file of ['tessera.db', 'tessera.db-wal']) {
      const bytes = await readFile(join(dir, file)).catch(() => Buffer.alloc(0));
      assert.equal(bytes.includes(secret), false, `${file} does not hold the secret`);
    }
  });

  test('an unknown key id costs exactly one scrypt (against the dummy hash) and is refused as unknown_key', async () => {
    const { token, id } = newToken();
    assert.deepEqual(await keys.verify(token), { ok: false, reason: 'unknown_key', keyId: id });
    assert.equal(counter.calls(), 1);
  });

  test('a known id with a wrong secret costs exactly one scrypt: bad_secret', async () => {
    const { key } = await keys.create({ entityUri: 'urn:test:x', permissions: ['read'] });
    counter.reset();
    const forged = `tsk_${key.id}_${newToken().secret}`;
    assert.deepEqual(await keys.verify(forged), { ok: false, reason: 'bad_secret', keyId: key.id });
    assert.equal(counter.calls(), 1);
  });

  test('a malformed token costs no scrypt and no store read: malformed', async () => {
    const { token } = newToken();
    for (const bad of [
      '',
      'x',
      token.slice(0, -2),
      `${token}A`,
      token.replace('tsk_', 'TSK_'),
      'a'.repeat(4000),
    ])
      assert.deepEqual(await keys.verify(bad), { ok: false, reason: 'malformed' });
    assert.equal(counter.calls(), 0);
  });

  test('a verified token is cached: no scrypt until the TTL passes, then exactly one', async () => {
    const { token } = await keys.create({ entityUri: 'urn:test:hot', permissions: ['read'] });
    assert.equal((await keys.verify(token)).ok, true);
    counter.reset();
    for (let i = 0; i < 5; i++) assert.equal((await keys.verify(token)).ok, true);
    assert.equal(counter.calls(), 0, 'cache hits');
    time.advance(60_001);
    assert.equal((await keys.verify(token)).ok, true);
    assert.equal(counter.calls(), 1, 'verified again after the TTL');
  });

  test('an expired key is refused as expired, even when its verification was cached', async () => {
    const expiresAt = new Date(time.nowMs() + 10_000).toISOString();
    const { key, token } = await keys.create({
      entityUri: 'urn:test:temp',
      permissions: ['read'],
      expiresAt,
    });
    assert.equal(key.expiresAt, expiresAt);
    assert.equal((await keys.verify(token)).ok, true);
    time.advance(10_000);
    assert.deepEqual(await keys.verify(token), { ok: false, reason: 'expired', keyId: key.id });
  });

  test('a revoked key is refused at once (cache dropped); revoking twice changes nothing', async () => {
    const { key, token } = await keys.create({ entityUri: 'urn:test:gone', permissions: ['read'] });
    assert.equal((await keys.verify(token)).ok, true, 'cached now');
    const first = await keys.revoke(key.id);
    assert.equal(first?.revoked, true);
    assert.equal(first?.key.revokedAt, time.clock().toISOString());
    assert.deepEqual(await keys.verify(token), { ok: false, reason: 'revoked', keyId: key.id });
    assert.equal((await keys.revoke(key.id))?.revoked, false);
    assert.equal(await keys.revoke('ffffffffffff'), null);
  });

  test('expired or revoked is only told to the holder of the secret: a wrong secret is bad_secret', async () => {
    const { key } = await keys.create({ entityUri: 'urn:test:gone2', permissions: ['read'] });
    await keys.revoke(key.id);
    assert.deepEqual(await keys.verify(`tsk_${key.id}_${newToken().secret}`), {
      ok: false,
      reason: 'bad_secret',
      keyId: key.id,
    });
  });

  test('hasActiveAdmin ignores revoked and expired admin keys; list never carries a hash', async (t) => {
    const local = await openSqliteStore(join(await tempDir(t), 'tessera.db'));
    t.after(() => local.close());
    const own = new ApiKeys({ store: local, clock: time.clock });
    assert.equal(await own.hasActiveAdmin(), false);
    await own.create({ entityUri: 'urn:test:reader', permissions: ['read', 'audit.read'] });
    assert.equal(await own.hasActiveAdmin(), false);
    const revoked = await own.create({ entityUri: 'urn:test:a1', permissions: ['admin'] });
    await own.revoke(revoked.key.id);
    await own.create({
      entityUri: 'urn:test:a2',
      permissions: ['admin'],
      expiresAt: new Date(time.nowMs() + 1000).toISOString(),
    });
    assert.equal(await own.hasActiveAdmin(), true);
    time.advance(1000);
    assert.equal(await own.hasActiveAdmin(), false);
    const list = await own.list();
    assert.equal(list.length, 3);
    for (const key of list) assert.equal('secretHash' in key, false);
  });
});
