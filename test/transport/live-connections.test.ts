// LiveConnections on its own, with fake connections, a manual clock and manual timers: a deadline further
// than setTimeout can wait (24.8 days) is reached in steps, a check that still passes at its deadline is
// retried later instead of spinning, one timer serves every connection (set for the soonest deadline), a
// closed connection leaves no timer, and close() clears it.
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
  assert.equal(socket.destroyed, false, 'a step, not the deadline: the next step is scheduled');
  assert.equal(timers.pending().length, 1);
  assert.equal(checked.length, 0, 'nothing is judged before its deadline');

  now += 91 * DAY_MS;
  timers.fireAll();
  assert.equal(socket.destroyed, true);
  assert.equal(live.size, 0);
  assert.deepEqual(timers.pending(), [], 'no timer left for a closed connection');
  assert.equal(checked.length, 1, 'judged once, at its deadline');
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

test('one timer for every connection: set for the soonest deadline, each connection judged at its own', () => {
  let now = Date.parse('2026-01-01T00:00:00Z');
  const timers = manualTimers();
  const checked: string[] = [];
  const names = new Map<FakeSocket, string>();
  const live = new LiveConnections<FakeSocket>({
    clock: () => new Date(now),
    timers: timers.timers,
    check: (socket, peer) => {
      checked.push(names.get(socket) as string);
      if (peer.notAfter.getTime() > now) return true;
      socket.destroy();
      return false;
    },
  });
  const open = (name: string, days: number) => {
    const socket = new FakeSocket();
    names.set(socket, name);
    live.add(socket, identity(new Date(now + days * DAY_MS)));
    return socket;
  };
  const [a1, a2] = [open('a1', 10), open('a2', 10)];
  assert.deepEqual(timers.pending(), [{ ms: 10 * DAY_MS }], 'two connections of one peer: one timer');
  const b = open('b', 3);
  assert.deepEqual(timers.pending(), [{ ms: 3 * DAY_MS }], 'a sooner deadline moves the one timer');
  open('c', 20);
  assert.equal(timers.pending().length, 1, 'a later deadline adds no timer');

  b.destroy(); // closed before its deadline: the timer fires, finds nothing due, waits for the next
  now += 3 * DAY_MS;
  timers.fireAll();
  assert.deepEqual(checked, [], 'b is gone, the others not due');
  assert.deepEqual(timers.pending(), [{ ms: 7 * DAY_MS }]);

  now += 7 * DAY_MS;
  timers.fireAll();
  assert.deepEqual(checked.sort(), ['a1', 'a2'], 'both connections of the expired peer, and only they');
  assert.equal(a1.destroyed && a2.destroyed, true);
  assert.equal(live.size, 1);
  assert.deepEqual(timers.pending(), [{ ms: 10 * DAY_MS }], 'c next');

  live.close();
  assert.deepEqual(timers.pending(), []);
  assert.equal(live.size, 0);
});
