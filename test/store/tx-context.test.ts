// TxContext: the stores' record of which transaction an async context runs in. Its storage is enabled only
// while a transaction runs: on Node 20 and 22 an enabled AsyncLocalStorage makes every promise, timer and
// socket of the process pay for async hooks, the ones of requests that open no transaction too.
import assert from 'node:assert/strict';
import { AsyncLocalStorage } from 'node:async_hooks';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { TxContext } from '../../src/store/tx-context.ts';
import { gate } from '../support/gate.ts';

/** An AsyncLocalStorage that counts how often it was disabled. */
class CountingStorage<T> extends AsyncLocalStorage<T> {
  disabled = 0;
  override disable(): void {
    this.disabled += 1;
    super.disable();
  }
}

test('a run sees its scope across awaits and timers; outside any run there is none', async () => {
  const context = new TxContext<string>();
  assert.equal(context.current(), undefined);
  const seen = await context.run('tx-a', async () => {
    const before = context.current();
    await sleep(1);
    const afterTimer = context.current();
    const inCallback = await new Promise((resolve) => setImmediate(() => resolve(context.current())));
    return [before, afterTimer, inCallback];
  });
  assert.deepEqual(seen, ['tx-a', 'tx-a', 'tx-a']);
  assert.equal(context.current(), undefined);
  assert.equal(context.running, 0);
});

test('a nested run sees its own scope, and the outer one again once it ends', async () => {
  const context = new TxContext<string>();
  const seen = await context.run('outer', async () => {
    const inner = await context.run('inner', async () => {
      await sleep(1);
      return [context.current(), context.running];
    });
    return [inner, context.current()];
  });
  assert.deepEqual(seen, [['inner', 2], 'outer']);
});

test('the storage is disabled when the last running transaction ends, not while one still runs', async () => {
  const storage = new CountingStorage<string>();
  const context = new TxContext<string>(storage);
  const holdB = gate();
  const aStarted = gate();
  let bAfterA: string | undefined;
  const a = context.run('a', async () => {
    aStarted.open();
    await sleep(1);
  });
  await aStarted.wait;
  const b = context.run('b', async () => {
    await holdB.wait;
    bAfterA = context.current();
  });
  await a;
  assert.equal(storage.disabled, 0, 'b still runs: its context must survive a ending');
  assert.equal(context.running, 1);
  holdB.open();
  await b;
  assert.equal(bAfterA, 'b');
  assert.equal(storage.disabled, 1);
  assert.equal(context.running, 0);
  // Node 20 and 22 implement the storage on async_hooks and say whether it is enabled: it is not.
  if ('enabled' in storage) assert.equal((storage as { enabled: boolean }).enabled, false);
});

test('a run that throws still ends: the count falls back and the storage is disabled', async () => {
  const storage = new CountingStorage<string>();
  const context = new TxContext<string>(storage);
  await assert.rejects(
    context.run('doomed', async () => {
      await sleep(1);
      throw new Error('rolled back');
    }),
    /rolled back/,
  );
  assert.equal(context.running, 0);
  assert.equal(storage.disabled, 1);
  assert.equal(context.current(), undefined);
});

test('a continuation left behind by a finished run does not see its transaction', async () => {
  const context = new TxContext<string>();
  const later = gate();
  let seenLater: string | undefined = 'unset';
  await context.run('finished', async () => {
    void later.wait.then(() => {
      seenLater = context.current();
    });
  });
  later.open();
  await sleep(1);
  assert.equal(seenLater, undefined);
});
