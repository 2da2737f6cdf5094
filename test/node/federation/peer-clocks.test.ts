// A peer's clock skew, estimated from the Date of its answers and the iat of its tokens: midpoint and
// uncertainty from whole-second stamps and the round trip, a recent Date reading preferred over tokens,
// nonsense ignored, memory bounded, and the skew level the status page shows.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type ClockReading, PeerClocks } from '../../../src/node/features/federation/peer-clocks.ts';
import { skewLevel } from '../../../src/node/features/status/peers-section.ts';

const T = Date.parse('2026-05-01T10:00:00.000Z');
const P = 'spiffe://test.example/node/p';
const httpDate = (ms: number) => new Date(ms).toUTCString();

test('a Date stamped 30 s ahead: skew is the stamp’s middle minus the round trip’s, ± half of each', () => {
  const seen: [string, ClockReading][] = [];
  const clocks = new PeerClocks({ onReading: (peer, reading) => seen.push([peer, reading]) });
  // Sent at T, headers back at T + 200 ms; the peer's clock read T + 30.1 s → Date says T + 30 s.
  clocks.fromHttpDate(P, httpDate(T + 30_000), T, T + 200);
  assert.deepEqual(clocks.get(P), { skewMs: 30_400, uncertaintyMs: 600, source: 'http_date', atMs: T + 200 });
  assert.equal(seen.length, 1);
  assert.equal(seen[0]?.[0], P);
  // The true skew (30.1 s) is inside the estimate's bounds.
  const reading = clocks.get(P) as ClockReading;
  assert.ok(Math.abs(reading.skewMs - 30_100) <= reading.uncertaintyMs);
});

test('a token iat counts while no recent Date reading exists; a Date reading outranks it for ten minutes', () => {
  const clocks = new PeerClocks();
  clocks.fromTokenIat(P, Math.floor((T - 3000) / 1000), T); // stamped 3 s before it arrived
  assert.deepEqual(clocks.get(P), { skewMs: -2500, uncertaintyMs: 500, source: 'token_iat', atMs: T });
  clocks.fromHttpDate(P, httpDate(T + 1000), T + 900, T + 1100);
  assert.equal(clocks.get(P)?.source, 'http_date');
  clocks.fromTokenIat(P, Math.floor((T + 60_000) / 1000), T + 60_000);
  assert.equal(clocks.get(P)?.source, 'http_date', 'a minute later the Date reading still wins');
  clocks.fromTokenIat(P, Math.floor((T + 700_000) / 1000), T + 700_000);
  assert.equal(clocks.get(P)?.source, 'token_iat', 'after ten minutes without a Date, the token counts');
});

test('nonsense is ignored: no Date, another date form, a round trip backwards, a stamp years away', () => {
  const clocks = new PeerClocks();
  clocks.fromHttpDate(P, undefined, T, T + 10);
  clocks.fromHttpDate(P, '2026-05-01T10:00:00Z', T, T + 10);
  clocks.fromHttpDate(P, httpDate(T), T + 10, T);
  clocks.fromHttpDate(P, httpDate(T + 400 * 86_400_000), T, T + 10);
  clocks.fromTokenIat(P, 1.5, T);
  assert.equal(clocks.get(P), undefined);
});

test('peers remembered are bounded (oldest reading dropped) and a forgotten peer has no reading', () => {
  const clocks = new PeerClocks({ maxPeers: 2 });
  for (const name of ['a', 'b', 'c']) clocks.fromHttpDate(name, httpDate(T), T, T);
  assert.equal(clocks.get('a'), undefined);
  assert.ok(clocks.get('b') && clocks.get('c'));
  clocks.forget('c');
  assert.equal(clocks.get('c'), undefined);
});

test('skew level: on what the skew surely is; warning from 5 s (tokens refused), critical from the fact limit', () => {
  const at = (skewMs: number, uncertaintyMs = 500): ClockReading => ({
    skewMs,
    uncertaintyMs,
    source: 'http_date',
    atMs: T,
  });
  assert.equal(skewLevel(at(5400), 60_000), 'ok', '5.4 s ± 0.5 s is not surely 5 s');
  assert.equal(skewLevel(at(-6000), 60_000), 'warning');
  assert.equal(skewLevel(at(61_000), 60_000), 'critical');
  assert.equal(skewLevel(at(61_000, 2000), 60_000), 'warning', 'a slow round trip keeps it a warning');
});
