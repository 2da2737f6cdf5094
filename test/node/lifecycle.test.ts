// The node's lifecycle order: listeners listen (federation first), then features start; close drains
// features newest first, then closes the listeners, then releases features and held resources newest
// first; a build that fails closes what it had opened; a listener that cannot listen closes everything.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Feature } from '../../src/node/app/feature.ts';
import { Lifecycle, type Listener } from '../../src/node/app/lifecycle.ts';

function recorder() {
  const log: string[] = [];
  const feature = (name: string): Feature => ({
    name,
    start: () => void log.push(`start ${name}`),
    reload: async () => void log.push(`reload ${name}`),
    drain: () => void log.push(`drain ${name}`),
    close: () => void log.push(`close ${name}`),
  });
  const listener = (name: 'api' | 'federation', fail = false): Listener => ({
    name,
    listen: async () => {
      if (fail) throw new Error(`${name}: EADDRINUSE`);
      log.push(`listen ${name}`);
    },
    close: async () => void log.push(`close listener ${name}`),
  });
  return { log, feature, listener };
}

test('start, reload and close run in order; close twice closes once', async () => {
  const { log, feature, listener } = recorder();
  const lifecycle = new Lifecycle();
  lifecycle.holds(() => log.push('release store'));
  lifecycle.holds(() => log.push('release credentials'));
  lifecycle.reloads(async () => void log.push('reload tls'));
  lifecycle.assembled([feature('a'), feature('b')], [listener('federation'), listener('api')]);
  await lifecycle.start();
  await lifecycle.reload();
  await Promise.all([lifecycle.close(), lifecycle.close()]);
  assert.deepEqual(log, [
    'listen federation',
    'listen api',
    'start a',
    'start b',
    'reload tls',
    'reload a',
    'reload b',
    'drain b',
    'drain a',
    'close listener federation',
    'close listener api',
    'close b',
    'close a',
    'release credentials',
    'release store',
  ]);
});

test('a build that throws releases what it held, newest first, and rethrows', async () => {
  const { log } = recorder();
  const lifecycle = new Lifecycle();
  await assert.rejects(
    lifecycle.build(async () => {
      lifecycle.holds(() => log.push('release store'));
      lifecycle.holds(() => log.push('release credentials'));
      throw new Error('TLS_KEY_MISMATCH');
    }),
    /TLS_KEY_MISMATCH/,
  );
  assert.deepEqual(log, ['release credentials', 'release store']);
});

test('a listener that cannot listen closes everything and no feature starts', async () => {
  const { log, feature, listener } = recorder();
  const lifecycle = new Lifecycle();
  lifecycle.holds(() => log.push('release store'));
  lifecycle.assembled([feature('a')], [listener('federation'), listener('api', true)]);
  await assert.rejects(lifecycle.start(), /api: EADDRINUSE/);
  assert.ok(!log.includes('start a'));
  assert.deepEqual(log.slice(-4), [
    'close listener federation',
    'close listener api',
    'close a',
    'release store',
  ]);
});
