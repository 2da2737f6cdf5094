// Named values: null when unset, last write wins.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { OpenStore } from './types.ts';

export function metaContract(open: OpenStore): void {
  test('meta: null when unset, last value wins', async () => {
    const t = await open();
    try {
      assert.equal(await t.store.getMeta('node_id'), null);
      await t.store.setMeta('node_id', 'first');
      await t.store.setMeta('node_id', 'second');
      assert.equal(await t.store.getMeta('node_id'), 'second');
    } finally {
      await t.cleanup();
    }
  });
}
