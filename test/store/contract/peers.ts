// Peers: round trip, uniqueness of id and entity URI, partial updates, and the pull cursor per peer.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { peer } from './records.ts';
import type { OpenStore } from './types.ts';

export function peerContract(open: OpenStore): void {
  const CLOCK = new Date('2025-11-23T12:34:56.000Z');

  test('peers round-trip: add, get by id and entity URI, list, partial update; unknown → null', async () => {
    const t = await open({ now: () => CLOCK });
    try {
      const a = peer({ allowedScopes: ['company', 'public', 'team'] });
      const b = peer({ status: 'approved' });
      await t.store.addPeer(a);
      await t.store.addPeer(b);
      assert.deepEqual(await t.store.getPeer(a.id), a);
      assert.deepEqual(await t.store.getPeerByEntityUri(b.entityUri), b);
      assert.deepEqual(await t.store.listPeers(), [a, b]);
      assert.equal(await t.store.getPeer('nobody'), null);
      assert.equal(await t.store.getPeerByEntityUri('spiffe://example.org/node/nobody'), null);

      const approved = await t.store.updatePeer(a.id, {
        status: 'approved',
        updatedAt: '2025-11-24T00:00:00.000Z',
      });
      assert.deepEqual(approved, { ...a, status: 'approved', updatedAt: '2025-11-24T00:00:00.000Z' });
      const narrowed = await t.store.updatePeer(a.id, {
        allowedScopes: ['public'],
        // A key present with undefined (as JS callers may pass) changes nothing.
        ...({ federationUrl: undefined } as object),
      });
      assert.deepEqual(narrowed, { ...approved, allowedScopes: ['public'], updatedAt: CLOCK.toISOString() });
      assert.deepEqual(await t.store.getPeer(a.id), narrowed, 'the update is stored');
      assert.equal(await t.store.updatePeer('nobody', { status: 'revoked' }), null);

      const store = await t.reopen();
      assert.deepEqual(await store.listPeers(), [narrowed, b]);
    } finally {
      await t.cleanup();
    }
  });

  test('a peer address allowlist round-trips, and an empty list clears it', async () => {
    const t = await open({ now: () => CLOCK });
    try {
      const a = peer({ allowedCidrs: ['10.0.0.0/8', '2001:db8::/32'] });
      await t.store.addPeer(a);
      assert.deepEqual(await t.store.getPeer(a.id), a);
      const cleared = await t.store.updatePeer(a.id, { allowedCidrs: [] });
      assert.equal(cleared && 'allowedCidrs' in cleared, false);
      assert.equal('allowedCidrs' in ((await t.store.getPeer(a.id)) ?? {}), false);
      const set = await t.store.updatePeer(a.id, { allowedCidrs: ['192.0.2.1/32'] });
      const store = await t.reopen();
      assert.deepEqual(await store.getPeer(a.id), set);
    } finally {
      await t.cleanup();
    }
  });

  test('a second peer with the same id or entity URI is refused with peer_exists', async () => {
    const t = await open();
    try {
      const a = peer();
      await t.store.addPeer(a);
      await assert.rejects(t.store.addPeer(peer({ id: a.id })), {
        name: 'StoreInputError',
        code: 'peer_exists',
      });
      await assert.rejects(t.store.addPeer(peer({ entityUri: a.entityUri })), {
        name: 'StoreInputError',
        code: 'peer_exists',
      });
      const b = peer();
      await t.store.addPeer(b);
      await assert.rejects(t.store.updatePeer(b.id, { entityUri: a.entityUri }), {
        name: 'StoreInputError',
        code: 'peer_exists',
      });
      assert.equal((await t.store.listPeers()).length, 2);
    } finally {
      await t.cleanup();
    }
  });

  test('pull cursors: null before the first pull, then the last one set; only for known peers', async () => {
    const t = await open();
    try {
      const a = peer();
      await t.store.addPeer(a);
      assert.equal(await t.store.getPullCursor(a.id), null);
      await t.store.setPullCursor(a.id, '17');
      await t.store.setPullCursor(a.id, '230');
      assert.equal(await t.store.getPullCursor(a.id), '230');
      await assert.rejects(t.store.setPullCursor('nobody', '1'), {
        name: 'StoreInputError',
        code: 'unknown_peer',
      });
    } finally {
      await t.cleanup();
    }
  });
}
