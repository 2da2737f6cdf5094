// Transactions: all-or-nothing, reads inside see their own writes, a failure does not block the next one,
// tx() inside tx() is a savepoint, a handle is dead once its transaction ended, close() drains, and a
// commit is durable across reopen. writable() and a closed store.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { StoreOps } from '../../../src/store/store.ts';
import { gate } from '../../support/gate.ts';
import { fact, peer } from './records.ts';
import type { OpenStore } from './types.ts';

export function transactionContract(open: OpenStore): void {
  test('a transaction that throws leaves nothing: facts and pull cursor are rolled back together', async () => {
    const t = await open();
    try {
      const p = peer();
      await t.store.addPeer(p);
      await t.store.setPullCursor(p.id, '5');
      const records = [fact(), fact(), fact()];
      const boom = new Error('page rejected halfway');
      await assert.rejects(
        t.store.tx(async (tx) => {
          for (const record of records) await tx.insertFact(record);
          await tx.setPullCursor(p.id, '42');
          await tx.setMeta('half', 'done');
          assert.equal(await tx.countFacts(), 3, 'the transaction sees its own writes');
          throw boom;
        }),
        (error: unknown) => error === boom,
      );
      assert.equal(await t.store.countFacts(), 0);
      for (const record of records) assert.equal(await t.store.getFact(record.cid), null);
      assert.equal(await t.store.getPullCursor(p.id), '5');
      assert.equal(await t.store.getMeta('half'), null);

      // The connection is usable afterwards, and the same records commit cleanly.
      const count = await t.store.tx(async (tx) => {
        for (const record of records) await tx.insertFact(record);
        await tx.setPullCursor(p.id, '42');
        return tx.countFacts();
      });
      assert.equal(count, 3);
      assert.equal(await t.store.getPullCursor(p.id), '42');
    } finally {
      await t.cleanup();
    }
  });

  test('reads outside a transaction see only committed data, never the open transaction’s writes', async () => {
    const t = await open();
    try {
      const held = gate();
      const inside = gate();
      const running = t.store.tx(async (tx) => {
        await tx.insertFact(fact({ id: 'pending' }));
        await tx.setMeta('pending', 'yes');
        inside.open();
        await held.wait;
      });
      await inside.wait;
      assert.equal(await t.store.getFact('pending'), null);
      assert.equal(await t.store.getMeta('pending'), null);
      assert.equal((await t.store.listFacts({}, 10)).total, 0);
      assert.deepEqual((await t.store.federationPage({ limit: 10, scopes: ['company'] })).facts, []);
      held.open();
      await running;
      assert.ok(await t.store.getFact('pending'), 'visible once committed');
      assert.equal(await t.store.getMeta('pending'), 'yes');
    } finally {
      await t.cleanup();
    }
  });

  test('a failing transaction does not block the queue: the next one runs and commits', async () => {
    const t = await open();
    try {
      const first = t.store.tx(async (tx) => {
        await tx.insertFact(fact({ id: 'lost' }));
        throw new Error('first fails');
      });
      const second = t.store.tx(async (tx) => {
        await tx.insertFact(fact({ id: 'kept' }));
      });
      await assert.rejects(first, /first fails/);
      await second;
      assert.equal(await t.store.getFact('lost'), null);
      assert.ok(await t.store.getFact('kept'));
    } finally {
      await t.cleanup();
    }
  });

  test('tx() inside tx() joins it as a savepoint: a caught inner failure undoes only the inner writes', async () => {
    const t = await open();
    try {
      await t.store.tx(async (tx) => {
        await tx.insertFact(fact({ id: 'outer-1' }));
        await t.store.tx(async (inner) => {
          await inner.insertFact(fact({ id: 'inner-ok' }));
        });
        await assert.rejects(
          t.store.tx(async (inner) => {
            await inner.insertFact(fact({ id: 'inner-undone' }));
            throw new Error('inner fails');
          }),
          /inner fails/,
        );
        // The store itself, called inside the transaction, joins it instead of waiting behind it.
        await t.store.insertFact(fact({ id: 'via-store' }));
        assert.ok(await t.store.getFact('via-store'), 'reads inside the tx see its writes');
      });
      const stored = (await t.store.listFacts({}, 10)).facts.map((f) => f.id);
      assert.deepEqual(stored, ['outer-1', 'inner-ok', 'via-store']);

      await assert.rejects(
        t.store.tx(async () => {
          await t.store.tx(async (inner) => {
            await inner.insertFact(fact({ id: 'inner-of-failed' }));
          });
          throw new Error('outer fails');
        }),
        /outer fails/,
      );
      assert.equal(
        await t.store.getFact('inner-of-failed'),
        null,
        'a released savepoint rolls back with its parent',
      );
    } finally {
      await t.cleanup();
    }
  });

  test('a transaction handle used after its transaction ended (or its parent’s) is refused with tx_finished', async () => {
    const t = await open();
    try {
      let leaked: StoreOps | undefined;
      await t.store.tx(async (tx) => {
        leaked = tx;
      });
      await assert.rejects(leaked!.insertFact(fact()), { name: 'StoreError', code: 'tx_finished' });
      await assert.rejects(leaked!.getMeta('k'), { name: 'StoreError', code: 'tx_finished' });
      assert.equal(await t.store.countFacts(), 0);

      // A nested tx the outer fn did not await cannot write once the outer one committed.
      const held = gate();
      let stray: Promise<void> | undefined;
      await t.store.tx(async () => {
        stray = t.store.tx(async (inner) => {
          await held.wait;
          await inner.insertFact(fact({ id: 'stray' }));
        });
      });
      held.open();
      await assert.rejects(stray!, { name: 'StoreError', code: 'tx_finished' });
      assert.equal(await t.store.getFact('stray'), null);
    } finally {
      await t.cleanup();
    }
  });

  test('close() waits for the transaction in progress, which commits', async () => {
    const t = await open();
    try {
      const held = gate();
      const inside = gate();
      const running = t.store.tx(async (tx) => {
        await tx.insertFact(fact({ id: 'before-close' }));
        inside.open();
        await held.wait;
      });
      await inside.wait;
      const closing = t.store.close();
      held.open();
      await Promise.all([running, closing]);
      const store = await t.reopen();
      assert.ok(await store.getFact('before-close'));
    } finally {
      await t.cleanup();
    }
  });

  test('a committed transaction survives close and reopen', async () => {
    const t = await open();
    try {
      const record = fact({ attested: { by: 'someone', sig: 'abc' }, valid_until: '2030-01-01T00:00:00Z' });
      await t.store.tx(async (tx) => {
        await tx.insertFact(record);
        await tx.setMeta('committed', 'yes');
      });
      const store = await t.reopen();
      assert.deepEqual(await store.getFact(record.id), record);
      assert.equal(await store.getMeta('committed'), 'yes');
    } finally {
      await t.cleanup();
    }
  });

  test('writable() answers ok on an open store and not ok (with a reason) once closed; a closed store refuses calls', async () => {
    const t = await open();
    try {
      assert.deepEqual(await t.store.writable(), { ok: true });
      await t.store.close();
      assert.deepEqual(await t.store.writable(), { ok: false, reason: 'the store is closed' });
      await assert.rejects(t.store.getFact('x'), { name: 'StoreError', code: 'store_closed' });
      await assert.rejects(t.store.setMeta('k', 'v'), { name: 'StoreError', code: 'store_closed' });
      await assert.rejects(
        t.store.tx(async () => undefined),
        { name: 'StoreError', code: 'store_closed' },
      );
    } finally {
      await t.cleanup();
    }
  });
}
