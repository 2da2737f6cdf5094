// The SQLite store runs every transaction and write on one writer connection, one at a time: a deliberate
// await inside a transaction cannot let another in, and readers on the reader connection see the last
// commit. (Transaction semantics every store shares are in contract/transactions.ts.)
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { gate } from '../support/gate.ts';
import { fact, settle } from './contract/records.ts';
import { tempStore } from './fixtures.ts';

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
