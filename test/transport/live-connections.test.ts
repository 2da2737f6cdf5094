// LiveConnections on its own, with fake connections, a manual clock and manual timers: a deadline further
// than setTimeout can wait (24.8 days) is reached in steps, a check that still passes at its deadline is
// retried later instead of spinning, a closed connection leaves no timer, and close() clears every timer.
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { test } from 'node:test';
import type { PeerIdentity } from '../../src/tls/identity.ts';
import { LiveConnections } from '../../src/transport/live-connections.ts';
import { manualTimers } from '../support/crl.ts';

const DAY_MS = 86_400_000;

class FakeSocket extends EventEmitter {
  destroyed = false;
  destroy() {
    this.destroyed = true;
    this.emit('close');
  }
}

const identity = (notAfter: Date) => ({ notAfter }) as PeerIdentity;

test('a 90-day deadline is reached in steps; at it the check closes the connection', () => {
  let now = Date.parse('2026-01-01T00:00:00Z');
  const timers = manualTimers();
  const checked: number[] = [];
  const live = new LiveConnections<FakeSocket>({
    clock: () => new Date(now),
    timers: timers.timers,
    check: (socket, peer) => {
      checked.push(now);
      if (peer.notAfter.getTime() >= now) return true;
      socket.destroy();
      return false;
    },
  });
  const socket = new FakeSocket();
  live.add(socket, identity(new Date(now + 90 * DAY_MS)));
  assert.deepEqual(timers.pending(), [{ ms: 2 ** 31 - 1 }], 'capped at what setTimeout can wait');

  now += 2 ** 31 - 1;
  timers.fireAll();
  assert.equal(socket.destroyed, false, 'still trusted: the next step is scheduled');
  assert.equal(timers.pending().length, 1);

  now += 91 * DAY_MS;
  timers.fireAll();
  assert.equal(socket.destroyed, true);
  assert.equal(live.size, 0);
  assert.deepEqual(timers.pending(), [], 'no timer left for a closed connection');
  assert.equal(checked.length, 2);
});

test('a check that passes at its deadline is retried after a second, not at once; close() clears timers', () => {
  const now = Date.parse('2026-01-01T00:00:00Z');
  const timers = manualTimers();
  const live = new LiveConnections<FakeSocket>({
    clock: () => new Date(now),
    timers: timers.timers,
    check: () => true,
  });
  const socket = new FakeSocket();
  live.add(socket, identity(new Date(now - 1)));
  assert.deepEqual(timers.pending(), [{ ms: 0 }]);
  timers.fireAll();
  assert.deepEqual(timers.pending(), [{ ms: 1000 }]);
  assert.equal(live.reevaluate(), 0);
  live.close();
  assert.deepEqual(timers.pending(), []);
  assert.equal(live.size, 0);
});
