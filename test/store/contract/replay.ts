// The peer-token replay cache: each jti accepted once until pruned after its expiry.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { OpenStore } from './types.ts';

export function replayContract(open: OpenStore): void {
  test('a token id is accepted once; a replay returns false; prune drops only expired ids', async () => {
    const t = await open();
    try {
      assert.equal(await t.store.rememberJti('jti-old', 1000), true);
      assert.equal(await t.store.rememberJti('jti-new', 3000), true);
      assert.equal(await t.store.rememberJti('jti-old', 1000), false, 'replay');
      assert.equal(await t.store.rememberJti('jti-new', 9999), false, 'replay with another expiry');
      await t.store.pruneJtis(2000);
      assert.equal(await t.store.rememberJti('jti-new', 3000), false, 'not yet expired: kept');
      assert.equal(await t.store.rememberJti('jti-old', 1000), true, 'expired: pruned, so it is new again');
      await t.store.pruneJtis(3000);
      assert.equal(await t.store.rememberJti('jti-new', 3000), false, 'expiring exactly now is kept');
    } finally {
      await t.cleanup();
    }
  });
}
