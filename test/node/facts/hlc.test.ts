import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  compareHlc,
  formatHlc,
  HlcError,
  HybridClock,
  MAX_COUNTER,
  parseHlc,
} from '../../../src/node/features/facts/hlc.ts';

/** A wall clock the test moves by hand. */
function manualWall(start: number) {
  let ms = start;
  return {
    read: () => ms,
    set: (value: number) => {
      ms = value;
    },
  };
}

test('wire form: 15-digit wall ms, dash, 6-digit counter; parse inverts format', () => {
  assert.equal(formatHlc({ wallMs: 1763900000000, counter: 3 }), '001763900000000-000003');
  assert.deepEqual(parseHlc('001763900000000-000003'), { wallMs: 1763900000000, counter: 3 });
  assert.equal(formatHlc({ wallMs: 0, counter: 0 }), '000000000000000-000000');
});

test('malformed HLC strings → HlcError hlc_malformed', () => {
  for (const bad of [
    '',
    '1763900000000.003', // Stigmem's own form is not ours
    '001763900000000-3',
    '1763900000000-000003',
    '001763900000000_000003',
    '001763900000000-0000003',
    ' 001763900000000-000003',
    '001763900000000-000003\n',
    '00176390000000a-000003',
    '-01763900000000-000003',
  ]) {
    assert.throws(
      () => parseHlc(bad),
      (error: unknown) => error instanceof HlcError && error.code === 'hlc_malformed',
      JSON.stringify(bad),
    );
  }
  assert.throws(
    () => new HybridClock(() => 0).observe('garbage'),
    (error: unknown) => error instanceof HlcError && error.code === 'hlc_malformed',
  );
});

test('out-of-range parts → HlcError hlc_out_of_range', () => {
  for (const bad of [
    { wallMs: -1, counter: 0 },
    { wallMs: 10 ** 15, counter: 0 },
    { wallMs: 1.5, counter: 0 },
    { wallMs: 0, counter: MAX_COUNTER + 1 },
    { wallMs: 0, counter: -1 },
  ]) {
    assert.throws(
      () => formatHlc(bad),
      (error: unknown) => error instanceof HlcError && error.code === 'hlc_out_of_range',
    );
  }
  assert.throws(
    () => new HybridClock(() => -5).now(),
    (error: unknown) => error instanceof HlcError && error.code === 'hlc_out_of_range',
  );
});

test('now() is strictly increasing while the wall clock stands still and when it goes backwards', () => {
  const wall = manualWall(1_000_000);
  const clock = new HybridClock(wall.read);
  const issued = [clock.now(), clock.now(), clock.now()];
  assert.deepEqual(issued, ['000000001000000-000000', '000000001000000-000001', '000000001000000-000002']);
  wall.set(999_000); // NTP stepped the clock back one second
  issued.push(clock.now(), clock.now());
  assert.equal(issued[3], '000000001000000-000003', 'keeps the higher wall time and counts on');
  wall.set(1_000_001);
  issued.push(clock.now());
  assert.equal(issued[5], '000000001000001-000000', 'counter resets when the wall clock overtakes');
  for (let i = 1; i < issued.length; i++)
    assert.ok(issued[i - 1]! < issued[i]!, `${issued[i - 1]} < ${issued[i]}`);
});

test('counter overflow borrows the next millisecond and stays fixed-width and ordered', () => {
  const clock = new HybridClock(() => 5, { initial: formatHlc({ wallMs: 5, counter: MAX_COUNTER - 1 }) });
  const a = clock.now();
  const b = clock.now();
  assert.equal(a, '000000000000005-999999');
  assert.equal(b, '000000000000006-000000');
  assert.ok(a < b);
});

test('initial: after a restart the clock never issues at or below the last HLC', () => {
  const clock = new HybridClock(() => 1000, { initial: '000000000002000-000007' });
  assert.equal(clock.now(), '000000000002000-000008');
});

test('observe() merges a remote clock: the next local HLC is after both', () => {
  const wall = manualWall(1000);
  const clock = new HybridClock(wall.read);
  const local = clock.now(); // 1000-0
  const remote = '000000000005000-000042'; // a peer whose clock is ahead
  const merged = clock.observe(remote);
  assert.equal(merged, '000000000005000-000043');
  const next = clock.now();
  assert.ok(local < remote && remote < merged && merged < next);
  assert.equal(next, '000000000005000-000044');

  // A remote clock behind ours only advances the counter.
  assert.equal(clock.observe('000000000000010-000900'), '000000000005000-000045');
  // Same wall time on both sides: the larger counter wins, plus one.
  assert.equal(clock.observe('000000000005000-000100'), '000000000005000-000101');
  // Our wall clock ahead of both: counter restarts.
  wall.set(9000);
  assert.equal(clock.observe('000000000005000-000999'), '000000000009000-000000');
});

test('observe() with maxForwardSkewMs refuses a peer clock too far ahead (hlc_skew) and keeps its own', () => {
  const clock = new HybridClock(() => 1000, { maxForwardSkewMs: 500 });
  clock.observe('000000000001500-000000');
  const before = clock.current();
  assert.throws(
    () => clock.observe('000000000001501-000000'),
    (error: unknown) => error instanceof HlcError && error.code === 'hlc_skew',
  );
  assert.equal(clock.current(), before);
});

test('string order equals clock order over many random pairs', () => {
  let seed = 42;
  const random = () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  const pick = () => ({
    // Mix of near and far values so equal wall times (counter decides) occur often.
    wallMs: random() < 0.5 ? Math.floor(random() * 4) : Math.floor(random() * 10 ** 15),
    counter: Math.floor(random() * (MAX_COUNTER + 1)),
  });
  for (let i = 0; i < 20_000; i++) {
    const a = pick();
    const b = pick();
    const byClock = Math.sign(compareHlc(a, b));
    const sa = formatHlc(a);
    const sb = formatHlc(b);
    const byString = sa < sb ? -1 : sa > sb ? 1 : 0;
    assert.equal(byString, byClock, `${sa} vs ${sb}`);
    assert.equal(sa.length, 22);
  }
});

test('every HLC issued is greater than every one before, whatever the wall clock and peers do', () => {
  let seed = 7;
  const random = () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  const wall = manualWall(1_000_000);
  const clock = new HybridClock(wall.read);
  let last = clock.now();
  for (let i = 0; i < 10_000; i++) {
    wall.set(Math.max(0, wall.read() + Math.floor(random() * 200) - 120)); // drifts, often backwards
    const next =
      random() < 0.3
        ? clock.observe(formatHlc({ wallMs: wall.read() + Math.floor(random() * 400) - 200, counter: 5 }))
        : clock.now();
    assert.ok(last < next, `${last} < ${next}`);
    last = next;
  }
});
