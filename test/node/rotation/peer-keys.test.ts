// The peer side of a node key rotation, over a real SQLite store: B approved A's key; A rotates; B reads
// A's re-signed manifest, proves the new key through the event signed by the old one, and then accepts
// peer tokens signed by either key inside the window and only the new key after it.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  mintPeerToken,
  PeerTokenError,
  verifyPeerToken,
} from '../../../src/node/features/federation/peer-token.ts';
import {
  buildManifest,
  type SignedManifest,
  verifyManifest,
} from '../../../src/node/features/identity/manifest.ts';
import type { NodeKey } from '../../../src/node/features/identity/node-key.ts';
import { PeerDirectory } from '../../../src/node/features/peers/peer-directory.ts';
import { RotationError } from '../../../src/node/features/rotation/errors.ts';
import { KeyRing, manifestRotationEvents } from '../../../src/node/features/rotation/key-ring.ts';
import { PeerKeyTrust, tokenKeyId } from '../../../src/node/features/rotation/peer-key-trust.ts';
import { acceptedPeerKeys } from '../../../src/node/features/rotation/peer-keys.ts';
import { rotateKey } from '../../../src/node/features/rotation/rotate-key.ts';
import type { PeerRecord } from '../../../src/store/ports/peers.ts';
import { openSqliteStore } from '../../../src/store/sqlite/open.ts';
import { DAY_MS, tempDir, testUri } from '../../support/pki.ts';

const A = testUri('a');
const B = testUri('b');
const T0 = new Date('2030-01-01T00:00:00.000Z');

async function setup(t: { after(fn: () => unknown): void }) {
  const dir = await tempDir(t);
  const dataDirA = join(dir, 'a');
  let clock = T0;
  const nodeRing = await KeyRing.open({ dataDir: dataDirA, kind: 'node', clock: () => clock });
  const issuerRing = await KeyRing.open({ dataDir: dataDirA, kind: 'issuer', clock: () => clock });
  const manifestOfA = (): SignedManifest =>
    verifyManifest(
      buildManifest({
        nodeKey: nodeRing.current(),
        entityUri: A,
        tlsSpkiSha256: '',
        now: clock,
        rotationEvents: manifestRotationEvents([nodeRing, issuerRing], clock),
        issuerKey: issuerRing.current(),
      }),
      { now: clock, expectedEntityUri: A },
    );
  const store = await openSqliteStore(join(dir, 'b', 'tessera.db'));
  t.after(() => store.close());
  const peers = await PeerDirectory.load(store);
  const first = manifestOfA();
  const peer: PeerRecord = {
    id: 'peer-a',
    entityUri: A,
    federationUrl: 'https://127.0.0.1:1',
    publicKey: first.public_key,
    keyId: first.key_id,
    fingerprint: 'sha256:x',
    tlsSpkiSha256: '',
    status: 'approved',
    allowedScopes: ['company'],
    createdAt: T0.toISOString(),
    updatedAt: T0.toISOString(),
  };
  await peers.add(peer);
  let fetches = 0;
  const trust = await PeerKeyTrust.load({
    store,
    peers,
    fetchManifest: async () => {
      fetches++;
      return manifestOfA();
    },
  });
  return {
    dataDirA,
    nodeRing,
    issuerRing,
    store,
    peers,
    trust,
    manifestOfA,
    fetches: () => fetches,
    setClock: (d: Date) => {
      clock = d;
    },
  };
}

const tokenFrom = (key: NodeKey, now: Date) =>
  mintPeerToken({ privateKey: key.privateKey, keyId: key.keyId, issuer: A, audience: B, now });

async function accepted(trust: PeerKeyTrust, peers: PeerDirectory, token: string, now: Date) {
  const peer = peers.byEntityUri(A)!;
  return verifyPeerToken(token, {
    publicKeys: trust.acceptedNodeKeys(peer, now),
    issuer: A,
    audience: B,
    now,
  });
}

test('after A rotates, B accepts tokens signed by the old key inside the window and only the new key after it', async (t) => {
  const s = await setup(t);
  const oldKey = s.nodeRing.current();
  const rotation = await rotateKey({ dataDir: s.dataDirA, kind: 'node', dualTrustDays: 7, now: T0 });
  await s.nodeRing.reload();
  const newKey = s.nodeRing.current();
  assert.equal(newKey.keyId, rotation.newKeyId);

  // B has not seen the new manifest: a token with the new kid is unknown, which is the cue to refresh.
  const early = await tokenFrom(newKey, T0);
  assert.equal(tokenKeyId(early), newKey.keyId);
  assert.equal(s.trust.knowsNodeKey(s.peers.byEntityUri(A)!, newKey.keyId, T0), false);
  await assert.rejects(accepted(s.trust, s.peers, early, T0), { code: 'token_invalid' });
  const applied = await s.trust.refresh(s.peers.byEntityUri(A)!, T0);
  assert.deepEqual(applied, { nodeKeyChanged: true, previousKeyId: oldKey.keyId, keyId: newKey.keyId });
  assert.equal(
    s.peers.byEntityUri(A)?.publicKey,
    newKey.publicKeyB64,
    'the peer record now holds the new key',
  );
  assert.equal((await s.store.getPeer('peer-a'))?.keyId, newKey.keyId, 'and so does the store');
  assert.equal(
    await s.trust.refresh(s.peers.byEntityUri(A)!, T0),
    null,
    'a second refresh right away is skipped',
  );
  assert.equal(s.fetches(), 1);

  const inside = new Date(T0.getTime() + 7 * DAY_MS - 60_000);
  s.setClock(inside);
  assert.equal((await accepted(s.trust, s.peers, await tokenFrom(oldKey, inside), inside)).issuer, A);
  assert.equal((await accepted(s.trust, s.peers, await tokenFrom(newKey, inside), inside)).issuer, A);

  const after = new Date(T0.getTime() + 7 * DAY_MS + 1000);
  s.setClock(after);
  await assert.rejects(
    accepted(s.trust, s.peers, await tokenFrom(oldKey, after), after),
    (error: unknown) => {
      assert.ok(error instanceof PeerTokenError);
      assert.equal(error.code, 'token_invalid');
      assert.match(error.message, /signature does not verify/);
      return true;
    },
  );
  assert.equal((await accepted(s.trust, s.peers, await tokenFrom(newKey, after), after)).issuer, A);
  assert.equal(await s.trust.prune(after), 1, 'the expired history row is pruned');

  // The same, as the plain helper over store rows.
  const history = await s.store.listPeerKeys();
  assert.deepEqual(acceptedPeerKeys(s.peers.byEntityUri(A)!, history, after), [newKey.publicKeyB64]);
});

test('two rotations in a row are followed link by link from the approved key', async (t) => {
  const s = await setup(t);
  const k0 = s.nodeRing.current();
  await rotateKey({ dataDir: s.dataDirA, kind: 'node', now: T0 });
  await rotateKey({ dataDir: s.dataDirA, kind: 'node', now: new Date(T0.getTime() + DAY_MS) });
  const now = new Date(T0.getTime() + 2 * DAY_MS);
  s.setClock(now);
  await s.nodeRing.reload();
  const applied = await s.trust.applyManifest(s.peers.byEntityUri(A)!, s.manifestOfA(), now);
  assert.equal(applied.keyId, s.nodeRing.current().keyId);
  const peer = s.peers.byEntityUri(A)!;
  assert.equal(
    s.trust.acceptedNodeKeys(peer, now).length,
    3,
    'current + two rotated-out keys in their windows',
  );
  assert.equal(s.trust.knowsNodeKey(peer, k0.keyId, now), true);
});

test('a new node key without a signed rotation event from the approved key is refused: rotation_unproven', async (t) => {
  const s = await setup(t);
  const before = s.peers.byEntityUri(A)!;
  // A fresh data dir: a different key, no events.
  const impostor = await KeyRing.open({ dataDir: join(s.dataDirA, 'other'), kind: 'node' });
  const manifest = buildManifest({ nodeKey: impostor.current(), entityUri: A, tlsSpkiSha256: '', now: T0 });
  await assert.rejects(s.trust.applyManifest(before, manifest, T0), (error: unknown) => {
    assert.ok(error instanceof RotationError);
    assert.equal(error.code, 'rotation_unproven');
    assert.match(error.message, /re-approve/);
    return true;
  });
  assert.equal(s.peers.byEntityUri(A)?.publicKey, before.publicKey, 'nothing changed');
  assert.deepEqual(await s.store.listPeerKeys(), []);
});
