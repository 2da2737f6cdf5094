// Rotating a key the operator gives as a secret (TESSERA_/STIGMEM_NODE_PRIVATE_KEY, …_ISSUER_PRIVATE_KEY):
// only the log is written (the manifest, then the event signed by the old key); the new key is shown
// before the commit and a failure to show it commits nothing; a ring over the secret trusts exactly the
// keys the chain of events leads through; a secret the log says was replaced is refused at start once
// its window is over (or at once when the log moved past it); --replace-pending recovers a lost seed.
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { verifyManifest } from '../../../src/node/features/identity/manifest.ts';
import { type NodeKey, NodeKeyError } from '../../../src/node/features/identity/node-key.ts';
import { RotationError } from '../../../src/node/features/rotation/errors.ts';
import { generateKey } from '../../../src/node/features/rotation/key-files.ts';
import { KeyRing } from '../../../src/node/features/rotation/key-ring.ts';
import { rotateKey } from '../../../src/node/features/rotation/rotate-key.ts';
import { readTlog, tlogPath, verifyTlog } from '../../../src/node/features/rotation/tlog.ts';
import { DAY_MS, tempDir } from '../../support/pki.ts';

const NOW = new Date('2030-01-01T00:00:00.000Z');
const ENTITY = 'stigmem://acme.example/nodes/primary';

function rotationError(code: string, pattern?: RegExp) {
  return (error: unknown) => {
    assert.ok(error instanceof RotationError, `expected a RotationError, got ${String(error)}`);
    assert.equal(error.code, code);
    if (pattern) assert.match(error.message, pattern);
    return true;
  };
}

function retiredAtStart(pattern: RegExp) {
  return (error: unknown) => {
    assert.ok(error instanceof NodeKeyError, `expected a NodeKeyError, got ${String(error)}`);
    assert.equal(error.code, 'NODE_KEY_RETIRED');
    assert.match(error.message, pattern);
    return true;
  };
}

/** A rotation of the node key given as a secret, as `identity rotate-key` runs it. */
function rotateSecret(
  dir: string,
  secret: NodeKey,
  issuer: NodeKey,
  extra: Partial<Parameters<typeof rotateKey>[0]> = {},
) {
  return rotateKey({
    dataDir: dir,
    kind: 'node',
    secret,
    now: NOW,
    manifest: { entityUri: ENTITY, otherKey: issuer },
    ...extra,
  });
}

const secretRing = (dir: string, key: NodeKey, clock: () => Date) =>
  KeyRing.open({ dataDir: dir, kind: 'node', clock, secret: { key, name: 'STIGMEM_NODE_PRIVATE_KEY' } });

test('a secret node key: the log gets the manifest then the event, nothing else is written; the ring of the new secret trusts the old key until the window ends', async (t) => {
  const dir = await tempDir(t);
  const old = generateKey();
  const issuer = generateKey();
  const result = await rotateSecret(dir, old, issuer);

  assert.equal(result.fromSecret, true);
  assert.equal(result.retiredKeyPath, null);
  assert.deepEqual(await readdir(dir), ['tlog.jsonl'], 'no key file: the new key is only in the result');
  const entries = await readTlog(tlogPath(dir));
  assert.deepEqual(
    entries.map((e) => [e.index, e.kind]),
    [
      [0, 'manifest'],
      [1, 'rotation'],
    ],
  );
  assert.equal(result.manifestIndex, 0);
  assert.equal(result.rotationIndex, 1);
  assert.deepEqual(entries[1]?.payload, result.event);
  // The logged manifest is the one the node serves with the new key: signed by it, carrying the event.
  const manifest = verifyManifest(entries[0]?.payload, { now: NOW, expectedEntityUri: ENTITY });
  assert.equal(manifest.key_id, result.newKeyId);
  assert.equal(manifest.issuer_key_id, issuer.keyId);
  assert.deepEqual(manifest.rotation_events, [result.event]);
  assert.equal((await verifyTlog(tlogPath(dir))).ok, true);

  let clock = NOW;
  const ring = await secretRing(dir, result.newKey, () => clock);
  assert.deepEqual(ring.standing(), { state: 'current' });
  assert.equal(ring.current().keyId, result.newKeyId);
  assert.deepEqual(
    ring.retired().map((k) => [k.keyId, k.notAfter.toISOString()]),
    [[old.keyId, new Date(NOW.getTime() + 7 * DAY_MS).toISOString()]],
  );
  assert.deepEqual(ring.rotationEvents(), [result.event]);
  clock = new Date(NOW.getTime() + 7 * DAY_MS);
  assert.deepEqual(ring.retired(), [], 'the old key is no longer accepted once the window ends');
});

test('the new key is shown before the commit: a failure to show it commits nothing; a dry run writes nothing either', async (t) => {
  const dir = await tempDir(t);
  const old = generateKey();
  const issuer = generateKey();
  const dry = await rotateSecret(dir, old, issuer, { dryRun: true });
  assert.equal(dry.dryRun, true);
  assert.deepEqual([dry.manifestIndex, dry.rotationIndex], [0, 1], 'the indexes it would get');
  assert.deepEqual(await readdir(dir), []);

  let seen: string | undefined;
  await assert.rejects(
    rotateSecret(dir, old, issuer, {
      beforeCommit: async (result) => {
        seen = result.newKeyId;
        // Prepared, not written: the log is still empty while the seed is being shown.
        assert.deepEqual(await readTlog(tlogPath(dir)), []);
        throw new RotationError('write_failed', 'cannot write to stdout (EPIPE)');
      },
    }),
    rotationError('write_failed', /EPIPE/),
  );
  assert.ok(seen);
  assert.deepEqual(await readTlog(tlogPath(dir)), [], 'nothing committed');
  assert.ok(!(await readdir(dir)).some((name) => name.endsWith('.lock')));

  const shown: number[] = [];
  const ok = await rotateSecret(dir, old, issuer, {
    beforeCommit: async (result) => {
      shown.push(result.rotationIndex);
    },
  });
  assert.deepEqual(shown, [ok.rotationIndex], 'shown once, with the index the commit gave it');
  assert.equal((await readTlog(tlogPath(dir))).at(-1)?.index, ok.rotationIndex);
});

test('a transparency log that is corrupt or cannot be written is reported by a dry run, before anything else', async (t) => {
  const dir = await tempDir(t);
  const old = generateKey();
  const issuer = generateKey();
  await rotateSecret(dir, old, issuer, { dryRun: false });
  const log = tlogPath(dir);
  const torn = join(dir, 'torn.jsonl');
  const { writeFile } = await import('node:fs/promises');
  await writeFile(torn, `${await readFile(log, 'utf8')}{"index":2,`);
  await assert.rejects(
    rotateSecret(dir, old, issuer, { dryRun: true, tlogPath: torn }),
    rotationError('tlog_corrupt', /last line is incomplete/),
  );
  // A path under a regular file can never be created (whoever runs the test, root included).
  await assert.rejects(
    rotateSecret(dir, old, issuer, { dryRun: true, tlogPath: join(torn, 'sub', 'tlog.jsonl') }),
    rotationError('write_failed', /cannot be written/),
  );
});

test('a secret that lags behind the log: pending (refused to rotate again, accepted at start inside its window), retired, superseded', async (t) => {
  const dir = await tempDir(t);
  const a = generateKey();
  const issuer = generateKey();
  const toB = await rotateSecret(dir, a, issuer, { dualTrustDays: 2 });

  // The operator has not installed B yet: another rotation from A would fork the chain.
  await assert.rejects(rotateSecret(dir, a, issuer), rotationError('rotation_pending', /--replace-pending/));
  // A restart with A inside the window keeps working (the old key is trusted everywhere until then)…
  const ring = await secretRing(dir, a, () => NOW);
  assert.equal(ring.standing().state, 'pending');
  assert.equal(ring.current().keyId, a.keyId);
  assert.deepEqual(ring.rotationEvents(), [], 'the manifest does not announce a key it does not use');
  // …and after it, the start is refused naming the key to install.
  await assert.rejects(
    secretRing(dir, a, () => new Date(NOW.getTime() + 2 * DAY_MS)),
    retiredAtStart(
      new RegExp(
        `STIGMEM_NODE_PRIVATE_KEY holds the node key ${a.keyId}.*put the seed that rotation printed \\(key ${toB.newKeyId}\\)`,
      ),
    ),
  );

  // The seed of B was lost: rotate from A again; B is superseded and never trusted.
  const toC = await rotateSecret(dir, a, issuer, { replacePending: true });
  assert.equal((await verifyTlog(tlogPath(dir))).ok, true, 'a replaced pending rotation keeps the log valid');
  const ringC = await secretRing(dir, toC.newKey, () => NOW);
  assert.deepEqual(ringC.rotationEvents(), [toC.event], 'only the event that leads to C');
  assert.deepEqual(
    ringC.retired().map((k) => k.keyId),
    [a.keyId],
  );
  await assert.rejects(
    secretRing(dir, toB.newKey, () => NOW),
    retiredAtStart(new RegExp(`a later rotation replaced by ${toC.newKeyId}`)),
  );

  // C rotates on to D: A is now retired for good, refused at start even inside its window.
  await rotateSecret(dir, toC.newKey, issuer);
  await assert.rejects(
    secretRing(dir, a, () => NOW),
    retiredAtStart(/must hold the current node key, not an older one/),
  );
  await assert.rejects(rotateSecret(dir, a, issuer), rotationError('key_retired'));

  // A key the log never names (replaced by hand): the node starts (it warns), rotate-key refuses.
  const stranger = generateKey();
  const strangerRing = await secretRing(dir, stranger, () => NOW);
  assert.equal(strangerRing.standing().state, 'unlogged');
  assert.deepEqual(strangerRing.retired(), [], 'no event leads to it, so no old key is trusted');
  await assert.rejects(rotateSecret(dir, stranger, issuer), rotationError('key_unlogged'));
});

test('an issuer rotation logs the manifest signed by the node key; without a node key it is refused before writing', async (t) => {
  const dir = await tempDir(t);
  const node = generateKey();
  const issuer = generateKey();
  const result = await rotateKey({
    dataDir: dir,
    kind: 'issuer',
    secret: issuer,
    now: NOW,
    manifest: { entityUri: ENTITY, otherKey: node },
  });
  assert.equal(result.dualTrustUntil, new Date(NOW.getTime() + 90 * DAY_MS).toISOString());
  const manifest = verifyManifest(result.manifest, { now: NOW, expectedPublicKey: node.publicKeyB64 });
  assert.equal(manifest.issuer_key_id, result.newKeyId);
  assert.deepEqual(manifest.rotation_events, [result.event]);

  const empty = await tempDir(t);
  await assert.rejects(
    rotateKey({ dataDir: empty, kind: 'issuer', secret: issuer, now: NOW, manifest: { entityUri: ENTITY } }),
    rotationError('key_missing', /node key is needed to sign the manifest/),
  );
  assert.deepEqual(await readdir(empty), []);
});
