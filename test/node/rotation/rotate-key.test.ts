// Key rotation on a real data dir: the signed event, the files it leaves (or, on a dry run, does not),
// the issuer's 90-day floor, the running node's KeyRing switching without a restart, and crash recovery.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadOrCreateNodeKey } from '../../../src/node/features/identity/node-key.ts';
import { RotationError } from '../../../src/node/features/rotation/errors.ts';
import { generateKey, pendingKeyFile, writeKeyFile } from '../../../src/node/features/rotation/key-files.ts';
import { KeyRing } from '../../../src/node/features/rotation/key-ring.ts';
import { rotateKey } from '../../../src/node/features/rotation/rotate-key.ts';
import {
  signRotationEvent,
  verifyRotationEvent,
} from '../../../src/node/features/rotation/rotation-event.ts';
import { appendTlog, readTlog, tlogPath, verifyTlog } from '../../../src/node/features/rotation/tlog.ts';
import { DAY_MS, tempDir } from '../../support/pki.ts';

const NOW = new Date('2030-01-01T00:00:00.000Z');

async function snapshot(dir: string): Promise<Record<string, string>> {
  const files: Record<string, string> = {};
  for (const name of (await readdir(dir)).sort()) files[name] = await readFile(join(dir, name), 'utf8');
  return files;
}

function expectRotationError(code: string) {
  return (error: unknown) => {
    assert.ok(error instanceof RotationError, `expected a RotationError, got ${String(error)}`);
    assert.equal(error.code, code);
    return true;
  };
}

test('rotate node key: event signed by the old key verifies; new key current, old kept 0600; logged', async (t) => {
  const dir = await tempDir(t);
  const old = await loadOrCreateNodeKey({ dataDir: dir });
  const result = await rotateKey({ dataDir: dir, kind: 'node', now: NOW });

  assert.equal(result.oldKeyId, old.keyId);
  assert.notEqual(result.newKeyId, old.keyId);
  assert.equal(
    result.dualTrustUntil,
    new Date(NOW.getTime() + 7 * DAY_MS).toISOString(),
    'node default 7 days',
  );
  const event = verifyRotationEvent(result.event, old.publicKeyB64);
  assert.equal(event.new_key_id, result.newKeyId);
  // The signature covers every field: any edit breaks it.
  assert.throws(
    () => verifyRotationEvent({ ...result.event, dual_trust_until: '2099-01-01T00:00:00.000Z' }),
    (e: unknown) => e instanceof RotationError && /does not verify with the old key/.test(e.message),
  );
  // A key other than the one trusted cannot have signed it.
  assert.throws(
    () => verifyRotationEvent(result.event, generateKey().publicKeyB64),
    expectRotationError('rotation_event_invalid'),
  );

  const now = await loadOrCreateNodeKey({ dataDir: dir });
  assert.equal(now.keyId, result.newKeyId, 'node-key.pem holds the new key');
  const retired = await loadOrCreateNodeKey({ dataDir: '', keyPath: result.retiredKeyPath as string });
  assert.equal(retired.keyId, old.keyId, 'the old key is kept as the retired file');
  assert.equal((await stat(result.retiredKeyPath as string)).mode & 0o777, 0o600);
  assert.equal((await stat(join(dir, 'node-key.pem'))).mode & 0o777, 0o600);

  const entries = await readTlog(tlogPath(dir));
  assert.equal(entries.length, 1);
  assert.equal(entries[0]?.index, result.rotationIndex);
  assert.equal(entries[0]?.kind, 'rotation');
  assert.deepEqual(entries[0]?.payload, result.event);
  assert.deepEqual(await verifyTlog(tlogPath(dir)), {
    ok: true,
    count: 1,
    lastIndex: 0,
    lastHash: entries[0]?.hash,
  });
  assert.ok(!(await readdir(dir)).some((n) => n.endsWith('.pending.pem') || n.endsWith('.lock')));
});

test('--dry-run signs and reports but writes nothing', async (t) => {
  const dir = await tempDir(t);
  await loadOrCreateNodeKey({ dataDir: dir, fileName: 'issuer-key.pem' });
  await rotateKey({ dataDir: dir, kind: 'issuer', now: NOW }); // a log to predict the next index from
  const before = await snapshot(dir);
  const result = await rotateKey({ dataDir: dir, kind: 'issuer', dryRun: true, now: NOW });
  assert.equal(result.dryRun, true);
  assert.equal(result.rotationIndex, 1, 'the index it would get');
  verifyRotationEvent(result.event);
  assert.deepEqual(await snapshot(dir), before);
});

test('issuer key: a dual-trust window under 90 days is refused before anything is written', async (t) => {
  const dir = await tempDir(t);
  await loadOrCreateNodeKey({ dataDir: dir, fileName: 'issuer-key.pem' });
  const before = await snapshot(dir);
  await assert.rejects(
    rotateKey({ dataDir: dir, kind: 'issuer', dualTrustDays: 89, now: NOW }),
    (error: unknown) =>
      expectRotationError('dual_trust_too_short')(error) && /at least 90 days/.test((error as Error).message),
  );
  await assert.rejects(
    rotateKey({ dataDir: dir, kind: 'node', dualTrustDays: 0, now: NOW }),
    expectRotationError('dual_trust_invalid'),
  );
  assert.deepEqual(await snapshot(dir), before);
  const ok = await rotateKey({ dataDir: dir, kind: 'issuer', dualTrustDays: 90, now: NOW });
  assert.equal(ok.dualTrustUntil, new Date(NOW.getTime() + 90 * DAY_MS).toISOString());
});

test('rotation needs an existing key: key_missing names the file', async (t) => {
  const dir = await tempDir(t);
  await assert.rejects(
    rotateKey({ dataDir: dir, kind: 'node', now: NOW }),
    (error: unknown) =>
      expectRotationError('key_missing')(error) &&
      (error as Error).message.includes(join(dir, 'node-key.pem')),
  );
  assert.deepEqual(await readdir(dir), []);
});

test('KeyRing: reload switches the signing key without a restart; the old key verifies until the window ends', async (t) => {
  const dir = await tempDir(t);
  let clock = NOW;
  const ring = await KeyRing.open({ dataDir: dir, kind: 'node', clock: () => clock });
  const old = ring.current();
  assert.deepEqual(ring.retired(), []);

  const rotation = await rotateKey({ dataDir: dir, kind: 'node', dualTrustDays: 7, now: NOW });
  assert.equal(ring.current().keyId, old.keyId, 'nothing changes before reload');
  const changed = once(ring, 'change');
  const reload = await ring.reload();
  assert.deepEqual(reload, { changed: true, previousKeyId: old.keyId, keyId: rotation.newKeyId });
  assert.deepEqual((await changed)[0], reload);
  assert.equal(ring.current().keyId, rotation.newKeyId);
  assert.deepEqual(
    ring.retired().map((k) => [k.keyId, k.notAfter.toISOString()]),
    [[old.keyId, rotation.dualTrustUntil]],
  );
  assert.equal(ring.verificationKeys().length, 2);
  assert.deepEqual(ring.rotationEvents(), [rotation.event]);
  assert.deepEqual(await ring.pruneRetired(), [], 'the retired file stays inside the window');

  clock = new Date(Date.parse(rotation.dualTrustUntil) + 1);
  assert.deepEqual(ring.retired(), []);
  assert.deepEqual(ring.verificationKeys(), [ring.current().publicKey]);
  assert.deepEqual(ring.rotationEvents(), [], 'the manifest stops carrying the event');
  assert.deepEqual(await ring.pruneRetired(), [old.keyId]);
  assert.ok(!(await readdir(dir)).some((n) => n.endsWith('.retired.pem')));
  assert.deepEqual(await ring.reload(), {
    changed: false,
    previousKeyId: rotation.newKeyId,
    keyId: rotation.newKeyId,
  });
});

test('KeyRing.watch: a rotation by another process is picked up from the file event', async (t) => {
  const dir = await tempDir(t);
  const ring = await KeyRing.open({ dataDir: dir, kind: 'issuer' });
  const stop = ring.watch({ pollMs: 60_000, debounceMs: 20, sighup: false });
  t.after(stop);
  // The watcher and its timers do not hold the process open (a node's listeners do): this timer does.
  const changed = once(ring, 'change', { signal: AbortSignal.timeout(10_000) });
  const keepAlive = setTimeout(() => {}, 10_000);
  t.after(() => clearTimeout(keepAlive));
  const rotation = await rotateKey({ dataDir: dir, kind: 'issuer' });
  const [event] = await changed;
  assert.equal(event.keyId, rotation.newKeyId);
  assert.equal(ring.current().keyId, rotation.newKeyId);
});

test('a crash between logging the event and swapping the file is completed on load; an unlogged pending key is dropped', async (t) => {
  const dir = await tempDir(t);
  const old = await loadOrCreateNodeKey({ dataDir: dir });
  // Steps 1 and 2 of a rotation, then "crash".
  const next = generateKey();
  await writeKeyFile(join(dir, pendingKeyFile('node', next.keyId)), next);
  const event = signRotationEvent({
    kind: 'node',
    oldKey: old,
    newKey: next,
    rotatedAt: NOW,
    dualTrustUntil: new Date(NOW.getTime() + DAY_MS),
  });
  await appendTlog(dir, { kind: 'rotation', payload: event, ts: NOW });
  // And an orphan from a rotation that never reached the log.
  const orphan = generateKey();
  await writeKeyFile(join(dir, pendingKeyFile('node', orphan.keyId)), orphan);

  const ring = await KeyRing.open({ dataDir: dir, kind: 'node', clock: () => NOW });
  assert.equal(ring.current().keyId, next.keyId);
  assert.ok(!(await readdir(dir)).some((n) => n.endsWith('.pending.pem')));
});

test('the tlog refuses to extend a torn last line', async (t) => {
  const dir = await tempDir(t);
  await appendTlog(dir, { kind: 'manifest', payload: { a: 1 }, ts: NOW });
  await writeFile(tlogPath(dir), `${await readFile(tlogPath(dir), 'utf8')}{"index":1,`);
  await assert.rejects(
    appendTlog(dir, { kind: 'manifest', payload: { a: 2 }, ts: NOW }),
    expectRotationError('tlog_corrupt'),
  );
  const verdict = await verifyTlog(tlogPath(dir));
  assert.equal(verdict.ok, false);
  assert.equal(!verdict.ok && verdict.firstBadIndex, 1);
  assert.equal(!verdict.ok && verdict.reason, 'malformed');
});
