// Async transactions over the one synchronous SQLite connection: all-or-nothing, strictly one at a time
// (a deliberate await inside cannot let another in), isolated from readers, nestable as savepoints.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { StoreOps } from '../../src/store/store.ts';
import { fact, peer, settle, tempStore } from './fixtures.ts';

/** A promise and its resolver: lets a test hold a transaction open at a chosen point. */
function gate(): { wait: Promise<void>; open: () => void } {
  let open!: () => void;
  const wait = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { wait, open };
}

test('a transaction that throws leaves nothing: facts and pull cursor are rolled back together', async () => {
  const t = await tempStore();
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

test('two concurrent transactions never interleave, even when the first awaits in the middle', async () => {
  const t = await tempStore();
  try {
    const events: string[] = [];
    const held = gate();
    const inside = gate();
    const a = t.store.tx(async (tx) => {
      events.push('a:begin');
      await tx.insertFact(fact({ id: 'a1' }));
      inside.open();
      await held.wait; // the deliberate await: another tx() must not run its statements now
      await tx.insertFact(fact({ id: 'a2' }));
      events.push('a:end');
    });
    await inside.wait;
    const b = t.store.tx(async (tx) => {
      events.push('b:begin');
      assert.ok(await tx.getFact('a2'), 'b starts only after a committed');
      await tx.insertFact(fact({ id: 'b1' }));
      events.push('b:end');
    });
    const write = t.store.setMeta('outside', 'tx').then(() => events.push('meta'));
    await settle();
    assert.deepEqual(events, ['a:begin'], 'b and the plain write wait while a is open');
    // Reads outside any transaction see the last commit, not a's uncommitted row.
    assert.equal(await t.store.getFact('a1'), null);
    assert.equal((await t.store.listFacts({}, 10)).total, 0);
    assert.deepEqual((await t.store.federationPage({ limit: 10, scopes: ['company'] })).facts, []);

    held.open();
    await Promise.all([a, b, write]);
    assert.deepEqual(events, ['a:begin', 'a:end', 'b:begin', 'b:end', 'meta'], 'in call order');
    assert.equal(await t.store.countFacts(), 3);
  } finally {
    await t.cleanup();
  }
});

test('a failing transaction does not block the queue: the next one runs and commits', async () => {
  const t = await tempStore();
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
  const t = await tempStore();
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
  const t = await tempStore();
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
  const t = await tempStore();
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
