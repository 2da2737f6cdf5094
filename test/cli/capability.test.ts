// `tessera capability verify` as a child process on a real data dir and SQLite database, without a running
// node: a token of this node's issuer key in the data dir; tokens of an approved peer checked against the
// issuer keys its manifest published (current, retiring inside or past its window), its replicated
// revocations, a peer not approved; and what prevents a verdict (exit 2) or bounds the input.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import { mintCapabilityToken } from '../../src/node/features/capabilities/token.ts';
import { loadOrCreateNodeKey, type NodeKey } from '../../src/node/features/identity/node-key.ts';
import { generateKey } from '../../src/node/features/rotation/key-files.ts';
import { openSqliteStore } from '../../src/store/sqlite/open.ts';
import { databasePath } from '../../src/store/sqlite/paths.ts';
import { runCli } from '../support/child.ts';
import { tempDir } from '../support/pki.ts';

const SELF = 'spiffe://test.example/node/a';
const PEER = 'spiffe://test.example/node/b';
const STRANGER = 'spiffe://test.example/node/c';
const DAY_MS = 86_400_000;

const token = async (key: NodeKey, issuer: string, id = randomUUID()) =>
  (
    await mintCapabilityToken({
      issuerKey: key,
      issuer,
      subject: 'acme:agent/reporter',
      verb: 'read',
      object: 'acme:report/42',
      issuedAt: new Date(),
      expiresAt: new Date(Date.now() + DAY_MS),
      id,
    })
  ).token;

test('capability verify: own issuer key from the data dir; an approved peer’s current and retiring keys, its revocations; unknown peers and ended windows refused', async (t) => {
  const dir = await tempDir(t);
  const own = await loadOrCreateNodeKey({ dataDir: dir, fileName: 'issuer-key.pem' });
  const [peerCurrent, peerRetiring, peerEnded] = [generateKey(), generateKey(), generateKey()];
  const store = await openSqliteStore(databasePath(dir));
  const now = new Date();
  const peer = (id: string, entityUri: string, status: 'approved' | 'pending') => ({
    id,
    entityUri,
    federationUrl: `https://127.0.0.1:${id === 'p1' ? 8801 : 8802}`,
    publicKey: generateKey().publicKeyB64,
    keyId: '0000000000000000',
    fingerprint: `sha256:${'0'.repeat(64)}`,
    tlsSpkiSha256: '0'.repeat(64),
    status,
    allowedScopes: ['company' as const],
    createdAt: now.toISOString(),
    updatedAt: now.toISOString(),
  });
  await store.addPeer(peer('p1', PEER, 'approved'));
  await store.addPeer(peer('p2', STRANGER, 'pending'));
  const peerKey = (key: NodeKey, notAfter: string | null, peerId = 'p1') =>
    store.putPeerKey({
      peerId,
      kind: 'issuer',
      keyId: key.keyId,
      publicKey: key.publicKeyB64,
      notAfter,
      addedAt: now.toISOString(),
    });
  await peerKey(peerCurrent, null);
  await peerKey(peerRetiring, new Date(now.getTime() + 30 * DAY_MS).toISOString());
  await peerKey(peerEnded, new Date(now.getTime() - DAY_MS).toISOString());
  const revokedId = randomUUID();
  await store.addRevocation({
    capability_id: revokedId,
    issuer: PEER,
    expires_at: new Date(now.getTime() + DAY_MS).toISOString(),
    revoked_at: now.toISOString(),
    reason: 'compromised agent',
  });
  await store.close();

  const env = { TESSERA_DATA_DIR: dir, TESSERA_ENTITY_URI: SELF };
  const verify = (tok: string, extra: string[] = []) =>
    runCli(['capability', 'verify', tok, ...extra], { env });

  const mine = await verify(await token(own, SELF), ['--json']);
  assert.equal(mine.code, 0, mine.stderr);
  assert.deepEqual(
    (({ valid, self_issued, key_id, key_status }) => ({ valid, self_issued, key_id, key_status }))(
      JSON.parse(mine.stdout),
    ),
    { valid: true, self_issued: true, key_id: own.keyId, key_status: 'current' },
  );

  const retiring = await verify(await token(peerRetiring, PEER));
  assert.equal(retiring.code, 0, retiring.stderr);
  assert.match(
    retiring.stdout,
    new RegExp(`^key_id +: ${peerRetiring.keyId} \\(retiring issuer key, trusted until `, 'm'),
  );
  assert.match(retiring.stdout, new RegExp(`^issuer +: ${PEER}$`, 'm'), 'not "this node"');

  const ended = await verify(await token(peerEnded, PEER));
  assert.equal(ended.code, 1);
  assert.match(
    ended.stderr,
    new RegExp(
      `^tessera: unknown_key: key ${peerEnded.keyId} is not an issuer key ${PEER} uses now \\(current ${peerCurrent.keyId}, retiring ${peerRetiring.keyId}\\)`,
    ),
  );

  const revoked = await verify(await token(peerCurrent, PEER, revokedId));
  assert.equal(revoked.code, 1);
  assert.match(revoked.stderr, new RegExp(`^tessera: revoked: capability ${revokedId} was revoked at `));
  assert.match(revoked.stdout, /^revoked +: YES, at .* \(compromised agent\)$/m);

  const pending = await verify(await token(generateKey(), STRANGER));
  assert.equal(pending.code, 1);
  assert.match(
    pending.stderr,
    /^tessera: unknown_issuer: spiffe:\/\/test\.example\/node\/c is neither this node nor an approved peer/,
  );
});

test('capability verify: a token over the bound on stdin is malformed; no database, no entity URI → exit 2 naming what is missing', async (t) => {
  const dir = await tempDir(t);
  const own = await loadOrCreateNodeKey({ dataDir: dir, fileName: 'issuer-key.pem' });
  const env = { TESSERA_DATA_DIR: dir, TESSERA_ENTITY_URI: SELF };

  const huge = await runCli(['capability', 'verify', '-'], { env, input: 'a'.repeat(20_000) });
  assert.equal(huge.code, 1);
  assert.match(
    huge.stderr,
    /^tessera: malformed: the token is 20000 characters long; a capability token is at most 16384\n$/,
  );

  // A valid signature needs the revocation list: without the node's database nothing can be said.
  const noDb = await runCli(['capability', 'verify', await token(own, SELF)], { env });
  assert.equal(noDb.code, 2);
  assert.match(noDb.stderr, /^tessera: no node database at .*tessera\.db/);
  assert.equal(noDb.stdout, '');

  const noEntity = await runCli(['capability', 'verify', 'x.y.z'], { env: { TESSERA_DATA_DIR: dir } });
  assert.equal(noEntity.code, 2);
  assert.match(noEntity.stderr, /^tessera: TESSERA_ENTITY_URI \(--entity-uri\) is required/);
});
