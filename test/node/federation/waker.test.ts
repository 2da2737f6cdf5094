// Push wakes: the first write after a quiet spell wakes the peers at once (no debounce delay on an idle
// node); writes during the following window share one more wake at its end; errors are only logged.
import assert from 'node:assert/strict';
import { afterEach, beforeEach, mock, test } from 'node:test';
import type { FederationClient } from '../../../src/node/features/federation/client.ts';
import { Waker } from '../../../src/node/features/federation/waker.ts';
import type { PeerDirectory } from '../../../src/node/features/peers/peer-directory.ts';
import { silentLogger } from '../../support/tls-peers.ts';

const PEERS = [{ entityUri: 'spiffe://test.example/node/p' }, { entityUri: 'spiffe://test.example/node/q' }];

function waker(debounceMs: number, fail = false) {
  const woken: string[] = [];
  const client = {
    wake: async (peer: { entityUri: string }) => {
      woken.push(peer.entityUri);
      if (fail) throw new Error('connection refused');
    },
  } as unknown as FederationClient;
  const peers = { approved: () => PEERS } as unknown as PeerDirectory;
  return { woken, waker: new Waker({ peers, client, debounceMs, logger: silentLogger }) };
}

beforeEach(() => mock.timers.enable({ apis: ['setTimeout'] }));
afterEach(() => mock.timers.reset());

test('the first write after a quiet spell wakes every peer at once, with no timer to wait for', () => {
  const { woken, waker: w } = waker(50);
  w.notify();
  assert.deepEqual(woken, [PEERS[0]!.entityUri, PEERS[1]!.entityUri]);
});

test('writes within the window share one more wake at its end; then the node is idle again', () => {
  const { woken, waker: w } = waker(50);
  w.notify();
  for (let i = 0; i < 20; i++) w.notify();
  assert.equal(woken.length, 2, 'the burst waits for the window');
  mock.timers.tick(49);
  assert.equal(woken.length, 2);
  mock.timers.tick(1);
  assert.equal(woken.length, 4, 'one coalesced wake for the twenty writes');
  mock.timers.tick(50);
  assert.equal(woken.length, 4, 'no write in that window: no wake');
  mock.timers.tick(1000);
  w.notify();
  assert.equal(woken.length, 6, 'idle again: at once');
});

test('a window with no write after the first wake sends nothing more; close() drops a pending wake', () => {
  const { woken, waker: w } = waker(50);
  w.notify();
  mock.timers.tick(100);
  assert.equal(woken.length, 2);
  w.notify();
  w.notify();
  w.close();
  mock.timers.tick(100);
  assert.equal(woken.length, 4, 'the pending wake of the closed waker never goes out');
  w.notify();
  assert.equal(woken.length, 4);
});

test('a peer that cannot be reached costs a log line, not an error', async () => {
  const { woken, waker: w } = waker(50, true);
  w.notify();
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(woken.length, 2);
});
