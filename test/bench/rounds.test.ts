// The benchmark's round order and its round-by-round ratios (bench/paths.ts): every server takes every
// place in turn, and a ratio pairs each round of one server with the same round of the other.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { inTurn, pairedRatio, type Sample } from '../../bench/paths.ts';

const rates = (...perCpu: number[]): Sample[] =>
  perCpu.map((rate) => ({ perCpu: rate, perWall: rate, cpuSeconds: 1, done: rate }));

test('each round starts one server later, so every server runs in every place', () => {
  const servers = ['tessera', 'raw', 'fastify'];
  assert.deepEqual(
    [0, 1, 2, 3].map((round) => inTurn(servers, round)),
    [
      ['tessera', 'raw', 'fastify'],
      ['raw', 'fastify', 'tessera'],
      ['fastify', 'tessera', 'raw'],
      ['tessera', 'raw', 'fastify'],
    ],
  );
  assert.deepEqual(servers, ['tessera', 'raw', 'fastify'], 'the list itself is left as it was');
});

test('a paired ratio is the median of the round-by-round ratios, not the ratio of the medians', () => {
  // The machine drifts: both servers slow down together in rounds 2 and 3.
  const tessera = rates(900, 450, 460, 880, 910);
  const raw = rates(1000, 500, 500, 1000, 1000);
  assert.equal(pairedRatio(tessera, raw), 0.9, 'each round is 0.88–0.92; the median is 0.9');
  assert.equal(pairedRatio(rates(900, 800), rates(1000)), 0.9, 'rounds without a pair are left out');
});
