// The status page's memory of counters: counts over a window are the value now minus the oldest reading
// inside it, readings older than the window are dropped, a re-created series counts from zero, and the
// number of series remembered is bounded.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Counter, Registry } from 'prom-client';
import { CounterHistory } from '../../../src/node/features/status/counter-history.ts';

const MINUTE = 60_000;

function setup(maxSeries?: number) {
  const registry = new Registry();
  const refused = new Counter({
    name: 'test_refused_total',
    help: 'refusals',
    labelNames: ['reason'] as const,
    registers: [registry],
  });
  let nowMs = 1_000_000;
  const history = new CounterHistory({
    registry,
    metrics: ['test_refused_total', 'test_absent_total'],
    now: () => nowMs,
    ...(maxSeries ? { maxSeries } : {}),
  });
  return {
    refused,
    history,
    advance: (ms: number) => {
      nowMs += ms;
    },
    now: () => nowMs,
  };
}

const counts = (deltas: { labels: Record<string, string>; delta: number }[]) =>
  Object.fromEntries(deltas.map((d) => [d.labels.reason, d.delta]));

test('a count over the last hour is the value now minus the oldest reading inside the hour', async () => {
  const { refused, history, advance, now } = setup();
  const started = now();
  await history.record(); // the start: nothing yet
  refused.inc({ reason: 'cert_expired' }, 3);
  for (let minute = 1; minute <= 30; minute++) {
    advance(MINUTE);
    await history.record();
  }
  refused.inc({ reason: 'no_uri_san' });
  let window = await history.since(3_600_000);
  assert.deepEqual(counts(window.deltas), { cert_expired: 3, no_uri_san: 1 });
  assert.equal(window.sinceMs, started, 'younger than an hour: counted since the first reading');
  // 45 more minutes: the readings from before the three cert_expired refusals fell out of the hour.
  for (let minute = 1; minute <= 45; minute++) {
    advance(MINUTE);
    await history.record();
  }
  window = await history.since(3_600_000);
  assert.deepEqual(counts(window.deltas), { no_uri_san: 1 });
  assert.equal(window.sinceMs, now() - 3_600_000);
  // A shorter window (a rate over five minutes) uses a younger baseline.
  refused.inc({ reason: 'no_uri_san' }, 5);
  const recent = await history.since(5 * MINUTE);
  assert.deepEqual(counts(recent.deltas), { no_uri_san: 5 });
  assert.equal(recent.sinceMs, now() - 5 * MINUTE);
});

test('readings are bounded however often they are taken, and a re-created series counts from zero', async () => {
  const { refused, history, advance, now } = setup();
  refused.inc({ reason: 'a' }, 10);
  await history.record();
  for (let i = 0; i < 500; i++) {
    advance(1000);
    await history.record();
  }
  // 500 readings a second apart, all inside the hour: only the newest 120 are kept.
  const { sinceMs } = await history.since(3_600_000);
  assert.equal(sinceMs, now() - 119_000);
  // A forgotten peer's series is removed and made again: its value now is all new.
  refused.remove({ reason: 'a' });
  refused.inc({ reason: 'a' }, 2);
  const { deltas } = await history.since(3_600_000);
  assert.deepEqual(counts(deltas), { a: 2 }, 'value below the baseline: the series was re-created');
});

test('series remembered per reading are capped', async () => {
  const { refused, history, advance } = setup(3);
  await history.record();
  for (const reason of ['a', 'b', 'c', 'd', 'e']) refused.inc({ reason });
  advance(MINUTE);
  const { deltas } = await history.since(3_600_000);
  assert.equal(deltas.length, 3);
});
