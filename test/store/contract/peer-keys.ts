// Peer keys: upsert by (peer, kind, key id), list per peer, prune by not_after, only for known peers.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { PeerKeyRecord } from '../../../src/store/ports/peer-keys.ts';
import { peer } from './records.ts';
import type { OpenStore } from './types.ts';

export function peerKeyContract(open: OpenStore): void {
  test('peer keys: upsert by (peer, kind, key id), list per peer, prune by not_after', async () => {
    const t = await open();
    try {
      const p = peer();
      await t.store.addPeer(p);
      const old: PeerKeyRecord = {
        peerId: p.id,
        kind: 'node',
        keyId: '0123456789abcdef',
        publicKey: 'A'.repeat(43),
        notAfter: '2030-01-08T00:00:00.000Z',
        addedAt: '2030-01-01T00:00:00.000Z',
      };
      const issuer: PeerKeyRecord = { ...old, kind: 'issuer', keyId: 'fedcba9876543210', notAfter: null };
      await t.store.putPeerKey(old);
      await t.store.putPeerKey(issuer);
      await t.store.putPeerKey({ ...old, notAfter: '2030-01-09T00:00:00.000Z' });
      assert.deepEqual(await t.store.listPeerKeys(p.id), [
        issuer,
        { ...old, notAfter: '2030-01-09T00:00:00.000Z' },
      ]);
      assert.deepEqual(await t.store.listPeerKeys('nobody'), []);
      await assert.rejects(t.store.putPeerKey({ ...old, peerId: 'nobody' }), {
        name: 'StoreInputError',
        code: 'unknown_peer',
      });

      assert.equal(await t.store.prunePeerKeys('2030-01-09T00:00:00.000Z'), 0, 'not_after is exclusive');
      assert.equal(await t.store.prunePeerKeys('2030-01-10T00:00:00.000Z'), 1);
      assert.deepEqual(await t.store.listPeerKeys(), [issuer], 'a key without end is never pruned');

      const store = await t.reopen();
      assert.deepEqual(await store.listPeerKeys(), [issuer]);
    } finally {
      await t.cleanup();
    }
  });
}
