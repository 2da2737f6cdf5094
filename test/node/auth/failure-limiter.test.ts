// Failed authentications per client address (a node built by the real composition with
// TESSERA_AUTH_FAILURES_PER_HOUR=3, real SQLite store, real scrypt counted): once an address has used its
// failures up it gets 429 before any key lookup or hash; time refills it; other addresses and its own
// valid keys are not charged.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { bearer, countingDerive, manualClock, type NodeApp, startNodeApp } from '../../support/node-app.ts';

const time = manualClock();
const scrypt = countingDerive();
let api: NodeApp;
let good: string;

before(async () => {
  api = await startNodeApp({
    clock: time.clock,
    derive: scrypt.derive,
    env: { TESSERA_AUTH_FAILURES_PER_HOUR: '3' },
  });
  good = await api.key(['read']);
});
after(() => api.close());

const get = (token: string, remoteAddress = '192.0.2.10') =>
  api.app.inject({ method: 'GET', url: '/v1/facts', headers: bearer(token), remoteAddress });
const forged = `tsk_${'0'.repeat(12)}_${'A'.repeat(43)}`;

test('three failures are answered 401 with one scrypt each; the fourth is 429 with no hash at all', async () => {
  scrypt.reset();
  for (let i = 0; i < 3; i++) assert.equal((await get(forged)).statusCode, 401);
  assert.equal(scrypt.calls(), 3);
  const blocked = await get(forged);
  assert.equal(blocked.statusCode, 429);
  assert.equal(blocked.json().error, 'too_many_auth_failures');
  assert.equal(blocked.headers['retry-after'], '1200', 'one failure back every 20 minutes at 3 per hour');
  assert.equal(scrypt.calls(), 3, 'a blocked address costs no hash');
  // Even a valid key from that address waits: the address is what is throttled.
  assert.equal((await get(good)).statusCode, 429);
});

test('another address is not affected, and time gives the blocked one its next try', async () => {
  assert.equal((await get(good, '192.0.2.99')).statusCode, 200);
  time.advance(20 * 60_000);
  assert.equal((await get(good)).statusCode, 200, 'a success after the refill');
  assert.equal((await get(forged)).statusCode, 401);
  assert.equal((await get(forged)).statusCode, 429);
});
