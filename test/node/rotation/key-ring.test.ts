// KeyRing.reload() on a data dir whose key file went missing or bad: only open() (the first start) creates
// a key, so a reload reports `error` (key_missing / key_unreadable), keeps signing with the current key and
// writes nothing; once the file is back, reloads are fine again. The same holds when watch() triggers it.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { RotationError } from '../../../src/node/features/rotation/errors.ts';
import { KeyRing, type KeyRingReload } from '../../../src/node/features/rotation/key-ring.ts';
import { tempDir } from '../../support/pki.ts';

const NOW = new Date('2030-01-01T00:00:00.000Z');

function expectRotationError(code: string, path: string) {
  return (error: unknown) => {
    assert.ok(error instanceof RotationError, `expected a RotationError, got ${String(error)}`);
    assert.equal(error.code, code);
    assert.ok(error.message.includes(path), `the message names ${path}: ${error.message}`);
    assert.ok(!error.message.includes('PRIVATE KEY'), 'no key material in the message');
    return true;
  };
}

async function openRing(t: { after(fn: () => unknown): void }, kind: 'node' | 'issuer') {
  const dir = await tempDir(t);
  const ring = await KeyRing.open({ dataDir: dir, kind, clock: () => NOW });
  const changes: KeyRingReload[] = [];
  const errors: Error[] = [];
  ring.on('change', (change) => changes.push(change));
  ring.on('error', (error) => errors.push(error));
  return { dir, ring, changes, errors, file: join(dir, `${kind}-key.pem`) };
}

test('open() creates the key on first start; a reload with the file gone emits key_missing and keeps the key', async (t) => {
  for (const kind of ['issuer', 'node'] as const) {
    const { dir, ring, changes, errors, file } = await openRing(t, kind);
    const key = ring.current();
    assert.deepEqual(await readdir(dir), [`${kind}-key.pem`], 'open() created the key');
    await rename(file, join(dir, 'aside'));

    await assert.rejects(ring.reload(), expectRotationError('key_missing', file));
    assert.equal(errors.length, 1, 'reported once as an error event');
    expectRotationError('key_missing', file)(errors[0]);
    assert.equal(ring.current(), key, 'the current key stays in use');
    assert.deepEqual(await readdir(dir), ['aside'], 'no new key file was created');
    assert.deepEqual(ring.rotationEvents(), [], 'and no rotation appeared');
    assert.deepEqual(changes, []);

    await rename(join(dir, 'aside'), file);
    assert.deepEqual(await ring.reload(), { changed: false, previousKeyId: key.keyId, keyId: key.keyId });
    assert.equal(ring.current().keyId, key.keyId);
    assert.equal(errors.length, 1);
    assert.deepEqual(changes, []);
  }
});

test('a reload with an unreadable key file emits key_unreadable, keeps the key and leaves the file alone', async (t) => {
  const { dir, ring, changes, errors, file } = await openRing(t, 'issuer');
  const key = ring.current();
  const good = await readFile(file, 'utf8');
  await writeFile(file, 'not a key\n', { mode: 0o600 });

  await assert.rejects(ring.reload(), expectRotationError('key_unreadable', file));
  assert.equal(errors.length, 1);
  assert.equal((errors[0] as RotationError).code, 'key_unreadable');
  assert.equal(ring.current(), key);
  assert.equal(await readFile(file, 'utf8'), 'not a key\n', 'the bad file is not replaced');
  assert.deepEqual(await readdir(dir), ['issuer-key.pem']);

  await writeFile(file, good, { mode: 0o600 });
  assert.equal((await ring.reload()).changed, false);
  assert.deepEqual(changes, []);
});

test('watch(): a deleted key file is reported as an error event, not picked up as a new key', async (t) => {
  const { dir, ring, changes, file } = await openRing(t, 'issuer');
  const key = ring.current();
  const stop = ring.watch({ pollMs: 60_000, debounceMs: 20, sighup: false });
  t.after(stop);
  // The watcher's timers do not hold the process open: this one does.
  const keepAlive = setTimeout(() => {}, 10_000);
  t.after(() => clearTimeout(keepAlive));
  const reported = once(ring, 'error', { signal: AbortSignal.timeout(10_000) });
  await rename(file, join(dir, 'aside'));
  const [error] = await reported;
  expectRotationError('key_missing', file)(error);
  assert.equal(ring.current(), key);
  assert.deepEqual(await readdir(dir), ['aside']);
  assert.deepEqual(changes, []);
});
