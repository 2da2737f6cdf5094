// The token bucket in exact integer arithmetic: capacity = the hourly rate, continuous refill, and the
// promised wait is exactly when the next token is there (not a millisecond earlier, not later).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TokenBucket } from '../../../src/node/features/quotas/token-bucket.ts';

test('a fresh bucket holds one hour of requests, then says exactly how long to wait', () => {
  const bucket = new TokenBucket(1000, 0);
  for (let i = 0; i < 1000; i++) assert.equal(bucket.take(0).ok, true, `request ${i + 1}`);
  assert.deepEqual(bucket.take(0), { ok: false, waitMs: 3600 });
  assert.deepEqual(bucket.take(3599), { ok: false, waitMs: 1 });
  assert.deepEqual(bucket.take(3600), { ok: true, remaining: 0 });
});

test('a rate that does not divide the hour: the wait is rounded up to the next whole millisecond', () => {
  const bucket = new TokenBucket(7, 0);
  for (let i = 0; i < 7; i++) bucket.take(0);
  const refused = bucket.take(0);
  assert.deepEqual(refused, { ok: false, waitMs: 514_286 }); // 3 600 000 / 7 = 514 285.7…
  assert.equal(bucket.take(514_285).ok, false);
  assert.equal(bucket.take(514_286).ok, true);
});

test('refill is continuous and stops at capacity; a full bucket can be forgotten', () => {
  const bucket = new TokenBucket(3600, 0); // one token per second
  for (let i = 0; i < 3600; i++) bucket.take(0);
  assert.equal(bucket.isFull(0), false);
  assert.deepEqual(bucket.take(10_000), { ok: true, remaining: 9 });
  assert.equal(bucket.isFull(3_600_000), false, 'one token short after one hour (it took one)');
  assert.equal(bucket.isFull(3_601_000), true);
  assert.deepEqual(bucket.take(100 * 3_600_000), { ok: true, remaining: 3599 }, 'never beyond capacity');
});

test('a clock that steps back neither refills nor drains', () => {
  const bucket = new TokenBucket(2, 10_000_000);
  bucket.take(10_000_000);
  bucket.take(10_000_000);
  assert.equal(bucket.take(0).ok, false);
  assert.deepEqual(bucket.take(10_000_000 + 1_800_000), { ok: true, remaining: 0 });
});
