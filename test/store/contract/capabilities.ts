// Issued capabilities and the revocation feed: idempotent per issuer and id, cursor paging, issuer
// filter, durability across reopen.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { revocation } from './records.ts';
import type { OpenStore } from './types.ts';

export function capabilityContract(open: OpenStore): void {
  test('capabilities: add and get; a duplicate id is refused', async () => {
    const t = await open();
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
    const t = await open();
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
    const t = await open();
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
}
