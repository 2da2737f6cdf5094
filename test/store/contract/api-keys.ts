// Managed API keys: round trip, duplicate and invalid records, revoke semantics, transactions and
// durability across reopen.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ApiKeyRecord } from '../../../src/store/ports/api-keys.ts';
import type { OpenStore } from './types.ts';

export function apiKeyContract(open: OpenStore): void {
  const HASH = 'scrypt$16384$8$1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA';

  let serial = 0;
  function apiKey(overrides: Partial<ApiKeyRecord> = {}): ApiKeyRecord {
    const n = ++serial;
    return {
      id: `k${String(n).padStart(4, '0')}`,
      entityUri: `spiffe://example.org/client/${n}`,
      permissions: ['read'],
      secretHash: `${HASH}${n}`,
      description: null,
      createdAt: `2025-11-23T10:00:${String(n % 60).padStart(2, '0')}.000Z`,
      expiresAt: null,
      revokedAt: null,
      ...overrides,
    };
  }

  test('api keys round-trip: add, get, list in creation order; unknown id → null; kept across reopen', async () => {
    const t = await open();
    try {
      const a = apiKey({
        permissions: ['read', 'write', 'federate', 'admin', 'audit.read'],
        description: 'ops "console" ✓',
        expiresAt: '2026-01-01T00:00:00.000Z',
      });
      const b = apiKey({ permissions: [], createdAt: '2025-11-22T00:00:00.000Z' });
      await t.store.addApiKey(a);
      await t.store.addApiKey(b);
      assert.deepEqual(await t.store.getApiKey(a.id), a);
      assert.deepEqual(await t.store.getApiKey(b.id), b);
      assert.equal(await t.store.getApiKey('nope'), null);
      assert.deepEqual(await t.store.listApiKeys(), [b, a], 'oldest createdAt first');

      const store = await t.reopen();
      assert.deepEqual(await store.listApiKeys(), [b, a]);
    } finally {
      await t.cleanup();
    }
  });

  test('a certificate-bound key keeps its binding (x5t#S256) across reopen; an unbound key has none', async () => {
    const t = await open();
    try {
      const bound = apiKey({ certSha256: 'n4bQgYhMfWWaL-qgxVrQFaO_TxsrC4Is0V1sFbDwCgg' });
      const plain = apiKey();
      await t.store.addApiKey(bound);
      await t.store.addApiKey(plain);
      assert.deepEqual(await t.store.getApiKey(bound.id), bound);
      assert.equal('certSha256' in ((await t.store.getApiKey(plain.id)) ?? {}), false);
      const store = await t.reopen();
      assert.deepEqual(await store.getApiKey(bound.id), bound);
    } finally {
      await t.cleanup();
    }
  });

  test('a second key with the same id is refused with api_key_exists and leaves the first unchanged', async () => {
    const t = await open();
    try {
      const a = apiKey();
      await t.store.addApiKey(a);
      const clash = apiKey({ id: a.id, secretHash: 'scrypt$1$1$1$other$other' });
      await assert.rejects(t.store.addApiKey(clash), (error: unknown) => {
        assert.ok(error instanceof Error);
        assert.equal(error.name, 'StoreInputError');
        assert.equal((error as { code?: string }).code, 'api_key_exists');
        assert.ok(error.message.includes(a.id));
        assert.ok(!error.message.includes('scrypt$'), 'no secret hash in the message');
        return true;
      });
      assert.deepEqual(await t.store.listApiKeys(), [a]);
    } finally {
      await t.cleanup();
    }
  });

  test('a key with an unknown permission or a missing required field is refused with invalid_record', async () => {
    const t = await open();
    try {
      const bad = apiKey({ permissions: ['read', 'root' as never] });
      await assert.rejects(t.store.addApiKey(bad), {
        name: 'StoreInputError',
        code: 'invalid_record',
        message: /unknown permissions root/,
      });
      const noHash = apiKey({ secretHash: null as never });
      await assert.rejects(t.store.addApiKey(noHash), (error: unknown) => {
        assert.equal((error as { code?: string }).code, 'invalid_record');
        assert.match((error as Error).message, /secret_hash/);
        return true;
      });
      assert.deepEqual(await t.store.listApiKeys(), []);
    } finally {
      await t.cleanup();
    }
  });

  test('revoke sets revokedAt once: true the first time, false when already revoked or unknown', async () => {
    const t = await open();
    try {
      const a = apiKey();
      const b = apiKey();
      await t.store.addApiKey(a);
      await t.store.addApiKey(b);
      assert.equal(await t.store.revokeApiKey(a.id, '2025-12-01T00:00:00.000Z'), true);
      assert.deepEqual(await t.store.getApiKey(a.id), { ...a, revokedAt: '2025-12-01T00:00:00.000Z' });
      assert.equal(await t.store.revokeApiKey(a.id, '2025-12-02T00:00:00.000Z'), false, 'already revoked');
      assert.equal(
        (await t.store.getApiKey(a.id))?.revokedAt,
        '2025-12-01T00:00:00.000Z',
        'the first revocation time is kept',
      );
      assert.equal(await t.store.revokeApiKey('nope', '2025-12-01T00:00:00.000Z'), false, 'unknown id');
      assert.deepEqual(await t.store.getApiKey(b.id), b, 'other keys untouched');

      const store = await t.reopen();
      assert.equal((await store.getApiKey(a.id))?.revokedAt, '2025-12-01T00:00:00.000Z');
    } finally {
      await t.cleanup();
    }
  });

  test('key writes join a transaction: a rolled-back tx leaves neither the key nor its revocation', async () => {
    const t = await open();
    try {
      const kept = apiKey();
      await t.store.addApiKey(kept);
      const dropped = apiKey();
      const boom = new Error('abort');
      await assert.rejects(
        t.store.tx(async (tx) => {
          await tx.addApiKey(dropped);
          assert.equal(await tx.revokeApiKey(kept.id, '2025-12-01T00:00:00.000Z'), true);
          assert.deepEqual(await tx.getApiKey(dropped.id), dropped, 'the tx sees its own key');
          throw boom;
        }),
        (error: unknown) => error === boom,
      );
      assert.equal(await t.store.getApiKey(dropped.id), null);
      assert.deepEqual(await t.store.getApiKey(kept.id), kept);
    } finally {
      await t.cleanup();
    }
  });
}
