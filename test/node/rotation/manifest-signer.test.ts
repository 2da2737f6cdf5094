// The served manifest follows the key rings: after a rotation and reload it is signed by the new node key,
// names the current issuer key, and carries the signed events while their window lasts.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { verifyManifest } from '../../../src/node/features/identity/manifest.ts';
import { ManifestSigner } from '../../../src/node/features/identity/well-known.ts';
import { KeyRing, manifestRotationEvents } from '../../../src/node/features/rotation/key-ring.ts';
import { rotateKey } from '../../../src/node/features/rotation/rotate-key.ts';
import { verifyRotationEvent } from '../../../src/node/features/rotation/rotation-event.ts';
import { DAY_MS, tempDir, testUri } from '../../support/pki.ts';

test('ManifestSigner over KeyRings: re-signed with the new key after reload, events carried inside the window', async (t) => {
  const dir = await tempDir(t);
  let now = new Date('2030-01-01T00:00:00.000Z');
  const clock = () => now;
  const nodeRing = await KeyRing.open({ dataDir: dir, kind: 'node', clock });
  const issuerRing = await KeyRing.open({ dataDir: dir, kind: 'issuer', clock });
  const signer = new ManifestSigner({
    nodeKey: () => nodeRing.current(),
    issuerKey: () => issuerRing.current(),
    rotationEvents: () => manifestRotationEvents([nodeRing, issuerRing], clock()),
    entityUri: testUri('a'),
    clock,
  });
  t.after(() => signer.close());
  const first = signer.manifest();
  assert.equal(first.key_id, nodeRing.current().keyId);
  assert.equal(first.issuer_key_id, issuerRing.current().keyId);
  assert.deepEqual(first.rotation_events, []);

  const oldKey = nodeRing.current();
  await rotateKey({ dataDir: dir, kind: 'node', dualTrustDays: 2, now });
  await nodeRing.reload();
  const second = verifyManifest(signer.manifest(), { now });
  assert.equal(second.key_id, nodeRing.current().keyId, 'a new key id makes the cached manifest stale');
  assert.equal(second.rotation_events.length, 1);
  verifyRotationEvent(second.rotation_events[0], oldKey.publicKeyB64);

  now = new Date(now.getTime() + 3 * DAY_MS);
  signer.invalidate();
  assert.deepEqual(signer.manifest().rotation_events, [], 'the event leaves the manifest after its window');
});
