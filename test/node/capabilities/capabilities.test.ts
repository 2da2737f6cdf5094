// Capability tokens between two nodes with real SQLite stores, and over HTTP on a node built by the real
// composition: issued on A, verified on A and on B (B knows A's issuer key only from A's signed manifest),
// refused when expired, revoked (on B once the revocation replicated), too long-lived, or signed by a
// rotated-out issuer key after its window; each route behind the access it declares.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { SignJWT } from 'jose';
import { httpStatusOf, NodeError } from '../../../src/node/errors.ts';
import { issuerKeyResolver } from '../../../src/node/features/capabilities/issuer-keys.ts';
import { pullRevocations, revocationFeed } from '../../../src/node/features/capabilities/revocations.ts';
import { CapabilityService } from '../../../src/node/features/capabilities/service.ts';
import { CAPABILITY_TOKEN_TYPE } from '../../../src/node/features/capabilities/token.ts';
import { buildManifest, verifyManifest } from '../../../src/node/features/identity/manifest.ts';
import { PeerDirectory } from '../../../src/node/features/peers/peer-directory.ts';
import { KeyRing, manifestRotationEvents } from '../../../src/node/features/rotation/key-ring.ts';
import { PeerKeyTrust } from '../../../src/node/features/rotation/peer-key-trust.ts';
import { rotateKey } from '../../../src/node/features/rotation/rotate-key.ts';
import { StoreInputError } from '../../../src/store/errors.ts';
import { openSqliteStore } from '../../../src/store/sqlite/open.ts';
import { bearer, manualClock, startNodeApp } from '../../support/node-app.ts';
import { DAY_MS, tempDir, testUri } from '../../support/pki.ts';

const A = testUri('a');
const B = testUri('b');
const C = testUri('c');
const T0 = new Date('2030-01-01T00:00:00.000Z');

async function twoNodes(t: { after(fn: () => unknown): void }) {
  const dir = await tempDir(t);
  let now = T0;
  const clock = () => now;
  const dataA = join(dir, 'a');
  const nodeRingA = await KeyRing.open({ dataDir: dataA, kind: 'node', clock });
  const issuerRingA = await KeyRing.open({ dataDir: dataA, kind: 'issuer', clock });
  const storeA = await openSqliteStore(join(dataA, 'tessera.db'));
  const storeB = await openSqliteStore(join(dir, 'b', 'tessera.db'));
  t.after(() => Promise.all([storeA.close(), storeB.close()]));
  const manifestOfA = () =>
    verifyManifest(
      buildManifest({
        nodeKey: nodeRingA.current(),
        entityUri: A,
        tlsSpkiSha256: '',
        now: clock(),
        rotationEvents: manifestRotationEvents([nodeRingA, issuerRingA], clock()),
        issuerKey: issuerRingA.current(),
      }),
      { now: clock() },
    );
  const serviceA = new CapabilityService({
    store: storeA,
    selfEntityUri: A,
    issuerKey: () => issuerRingA.current(),
    issuerKeys: issuerKeyResolver({ selfEntityUri: A, issuerRing: issuerRingA }),
    clock,
  });

  const peersB = await PeerDirectory.load(storeB);
  const m = manifestOfA();
  await peersB.add({
    id: 'peer-a',
    entityUri: A,
    federationUrl: 'https://127.0.0.1:1',
    publicKey: m.public_key,
    keyId: m.key_id,
    fingerprint: 'sha256:x',
    tlsSpkiSha256: '',
    status: 'approved',
    allowedScopes: ['company'],
    createdAt: T0.toISOString(),
    updatedAt: T0.toISOString(),
  });
  const trustB = await PeerKeyTrust.load({
    store: storeB,
    peers: peersB,
    fetchManifest: async () => manifestOfA(),
  });
  const issuerRingB = await KeyRing.open({ dataDir: join(dir, 'b'), kind: 'issuer', clock });
  const serviceB = new CapabilityService({
    store: storeB,
    selfEntityUri: B,
    issuerKey: () => issuerRingB.current(),
    issuerKeys: issuerKeyResolver({
      selfEntityUri: B,
      issuerRing: issuerRingB,
      peers: peersB,
      trust: trustB,
    }),
    clock,
  });
  return {
    dataA,
    issuerRingA,
    storeA,
    storeB,
    serviceA,
    serviceB,
    trustB,
    peersB,
    manifestOfA,
    setNow: (d: Date) => {
      now = d;
    },
    /** B pulls A's revocation feed (what GET /v1/federation/revocations serves). */
    pullFromA: () =>
      pullRevocations({
        store: storeB,
        peer: { id: 'peer-a', entityUri: A },
        fetchPage: (cursor, limit) =>
          revocationFeed(storeA, A, { ...(cursor ? { cursor } : {}), limit: String(limit) }),
        pageSize: 2,
      }),
  };
}

const grant = { subject: 'spiffe://test.example/agent/x', verb: 'read', object: 'facts:team/x' };

test('issued on A → valid on A and on B (B learns A issuer key from its signed manifest)', async (t) => {
  const n = await twoNodes(t);
  const issued = await n.serviceA.issue({ ...grant, ttl_seconds: 3600 });
  assert.equal(issued.issuer, A);
  assert.equal(issued.expires_at, new Date(T0.getTime() + 3_600_000).toISOString());
  const expected = {
    id: issued.id,
    issuer: A,
    ...grant,
    issued_at: T0.toISOString(),
    expires_at: issued.expires_at,
  };
  assert.deepEqual(await n.serviceA.verify(issued.token), { valid: true, capability: expected });
  assert.deepEqual(await n.serviceB.verify(issued.token, { verb: 'read' }), {
    valid: true,
    capability: expected,
  });
  const mismatch = await n.serviceB.verify(issued.token, { object: 'facts:team/y' });
  assert.equal(mismatch.valid === false && mismatch.reason, 'mismatch');
  assert.deepEqual(await n.storeA.getCapability(issued.id), {
    id: issued.id,
    issuer: A,
    ...grant,
    keyId: n.issuerRingA.current().keyId,
    issuedAt: T0.toISOString(),
    expiresAt: issued.expires_at,
  });
});

test('expired → refused with reason expired; unknown issuer and garbage are refused with their reasons', async (t) => {
  const n = await twoNodes(t);
  const issued = await n.serviceA.issue({ ...grant, ttl_seconds: 60 });
  n.setNow(new Date(T0.getTime() + 3_600_000));
  const verdict = await n.serviceA.verify(issued.token);
  assert.equal(verdict.valid, false);
  assert.equal(!verdict.valid && verdict.reason, 'expired');
  assert.match(!verdict.valid ? verdict.detail : '', /expired at 2030-01-01T00:01:00.000Z/);

  // A token claiming to be from A but signed by another key (another data dir's issuer key).
  const impostor = await twoNodes(t);
  const forged = await impostor.serviceA.issue(grant);
  const foreign = await n.serviceB.verify(forged.token);
  assert.equal(!foreign.valid && foreign.reason, 'signature_invalid');
  // B does not know C: a token C issued is unknown_issuer on B.
  const unknown = await n.serviceB.verify(
    await new SignJWT({ verb: 'read', object: 'x' })
      .setProtectedHeader({ alg: 'EdDSA', typ: CAPABILITY_TOKEN_TYPE, kid: '0123456789abcdef' })
      .setIssuer(C)
      .setSubject('s')
      .setIssuedAt(Math.floor(T0.getTime() / 1000))
      .setExpirationTime(Math.floor(T0.getTime() / 1000) + 60)
      .setJti('abcdefgh12')
      .sign(n.issuerRingA.current().privateKey),
  );
  assert.equal(!unknown.valid && unknown.reason, 'unknown_issuer');
  const garbage = await n.serviceA.verify('not-a-token');
  assert.deepEqual(garbage, { valid: false, reason: 'malformed', detail: 'the token is not a JWT' });
});

test('revoked on A → refused on A at once, and on B after the revocation replicated', async (t) => {
  const n = await twoNodes(t);
  const issued = await n.serviceA.issue(grant);
  const other = await n.serviceA.issue(grant);
  const revoked = await n.serviceA.revoke(issued.id, 'key leaked');
  assert.equal(revoked.alreadyRevoked, false);
  assert.deepEqual(revoked.revocation, {
    capability_id: issued.id,
    issuer: A,
    expires_at: issued.expires_at,
    revoked_at: T0.toISOString(),
    reason: 'key leaked',
  });
  assert.equal((await n.serviceA.revoke(issued.id)).alreadyRevoked, true, 'idempotent');
  const onA = await n.serviceA.verify(issued.token);
  assert.equal(!onA.valid && onA.reason, 'revoked');

  assert.equal((await n.serviceB.verify(issued.token)).valid, true, 'B has not pulled yet');
  assert.deepEqual(await n.pullFromA(), { added: 1, refused: 0 });
  const onB = await n.serviceB.verify(issued.token);
  assert.equal(!onB.valid && onB.reason, 'revoked');
  assert.equal((await n.serviceB.verify(other.token)).valid, true);
  assert.deepEqual(await n.pullFromA(), { added: 0, refused: 0 }, 'the cursor moved: nothing again');

  await assert.rejects(n.serviceA.revoke('no-such-capability'), { name: 'NodeError', code: 'not_found' });
});

test('revocation squat: a peer publishing a revocation under the id of A capability blocks neither A nor B', async (t) => {
  const n = await twoNodes(t);
  const issued = await n.serviceA.issue(grant);
  // C, a peer of both A and B, serves from its own store a "revocation" of A's capability id as issuer C:
  // it is ingested (C is its issuer) but must neither occupy the id nor count against A's token.
  const storeC = await openSqliteStore(join(await tempDir(t), 'tessera.db'));
  t.after(() => storeC.close());
  const squat = {
    capability_id: issued.id,
    issuer: C,
    expires_at: issued.expires_at,
    revoked_at: T0.toISOString(),
    reason: 'squat',
  };
  assert.equal(await storeC.addRevocation(squat), true);
  const pullFromC = (store: typeof n.storeA) =>
    pullRevocations({
      store,
      peer: { id: 'peer-c', entityUri: C },
      fetchPage: (cursor, limit) =>
        revocationFeed(storeC, C, { ...(cursor ? { cursor } : {}), limit: String(limit) }),
    });
  assert.deepEqual(await pullFromC(n.storeB), { added: 1, refused: 0 });
  assert.deepEqual(await pullFromC(n.storeA), { added: 1, refused: 0 });
  assert.equal((await n.serviceA.verify(issued.token)).valid, true, "C's record does not revoke A's token");
  assert.equal((await n.serviceB.verify(issued.token)).valid, true);

  const revoked = await n.serviceA.revoke(issued.id, 'leaked');
  assert.equal(revoked.alreadyRevoked, false, "C's record does not make it already revoked on A");
  assert.equal(revoked.revocation.issuer, A);
  const onA = await n.serviceA.verify(issued.token);
  assert.equal(!onA.valid && onA.reason, 'revoked');
  assert.match(!onA.valid ? onA.detail : '', new RegExp(`${issued.id} was revoked`));
  const again = await n.serviceA.revoke(issued.id, 'other reason');
  assert.equal(again.alreadyRevoked, true);
  assert.deepEqual(again.revocation, revoked.revocation, 'our own first record, not the squat');

  assert.equal((await n.serviceB.verify(issued.token)).valid, true, 'B has not pulled from A yet');
  assert.deepEqual(await n.pullFromA(), { added: 1, refused: 0 }, "A's revocation is not skipped on B");
  const onB = await n.serviceB.verify(issued.token);
  assert.equal(!onB.valid && onB.reason, 'revoked');
  assert.deepEqual(await n.storeB.getRevocation(A, issued.id), revoked.revocation);
  assert.deepEqual(await n.storeB.getRevocation(C, issued.id), squat, 'both records are kept side by side');
});

test('revocation feed round trip: paged with a cursor, only the issuer own revocations count', async (t) => {
  const n = await twoNodes(t);
  const ids: string[] = [];
  for (let i = 0; i < 5; i++) {
    const issued = await n.serviceA.issue(grant);
    ids.push(issued.id);
    await n.serviceA.revoke(issued.id);
  }
  // A revocation A holds for someone else's capability is not A's to serve.
  await n.storeA.addRevocation({
    capability_id: 'foreign-cap-1',
    issuer: C,
    expires_at: T0.toISOString(),
    revoked_at: T0.toISOString(),
    reason: null,
  });
  assert.deepEqual(await n.pullFromA(), { added: 5, refused: 0 });
  for (const id of ids) assert.equal((await n.storeB.getRevocation(A, id))?.issuer, A);
  assert.equal(await n.storeB.getRevocation(C, 'foreign-cap-1'), null);

  // A page from A that names another issuer is refused record by record.
  const { ingestRevocationPage } = await import('../../../src/node/features/capabilities/revocations.ts');
  const result = await n.storeB.tx((tx) =>
    ingestRevocationPage(
      tx,
      { id: 'peer-a', entityUri: A },
      {
        revocations: [
          {
            capability_id: 'cap-of-c-123',
            issuer: C,
            expires_at: T0.toISOString(),
            revoked_at: T0.toISOString(),
            reason: null,
          },
        ],
        cursor: '99',
        more: false,
      },
    ),
  );
  assert.deepEqual(result, { added: 0, refused: 1, cursor: '99', more: false });
  await assert.rejects(
    revocationFeed(n.storeA, A, { cursor: 'abc' }),
    (e: unknown) => e instanceof StoreInputError && e.code === 'invalid_cursor',
  );
});

test('TTL over 90 days is refused when issuing, and a token claiming one is refused when verifying', async (t) => {
  const n = await twoNodes(t);
  await assert.rejects(n.serviceA.issue({ ...grant, ttl_seconds: 90 * 86_400 + 1 }), (error: unknown) => {
    assert.ok(error instanceof NodeError);
    assert.equal(httpStatusOf(error.code), 422);
    assert.equal(error.code, 'ttl_too_long');
    return true;
  });
  const ok = await n.serviceA.issue({
    ...grant,
    expires_at: new Date(T0.getTime() + 90 * DAY_MS).toISOString(),
  });
  assert.equal((await n.serviceA.verify(ok.token)).valid, true, 'exactly 90 days is allowed');
  const iat = Math.floor(T0.getTime() / 1000);
  const long = await new SignJWT({ verb: 'read', object: 'x' })
    .setProtectedHeader({ alg: 'EdDSA', typ: CAPABILITY_TOKEN_TYPE, kid: n.issuerRingA.current().keyId })
    .setIssuer(A)
    .setSubject('s')
    .setIssuedAt(iat)
    .setExpirationTime(iat + 91 * 86_400)
    .setJti('abcdefgh12')
    .sign(n.issuerRingA.current().privateKey);
  const verdict = await n.serviceA.verify(long);
  assert.equal(!verdict.valid && verdict.reason, 'ttl_too_long');
});

test('issuer key rotation: old-key capabilities verify on A and B inside the 90-day window, not after', async (t) => {
  const n = await twoNodes(t);
  const issued = await n.serviceA.issue({ ...grant, ttl_seconds: 90 * 86_400 });
  assert.equal((await n.serviceB.verify(issued.token)).valid, true, 'B fetched the manifest once');
  await rotateKey({ dataDir: n.dataA, kind: 'issuer', dualTrustDays: 90, now: T0 });
  await n.issuerRingA.reload();
  await n.trustB.applyManifest(n.peersB.byEntityUri(A)!, n.manifestOfA(), T0);
  const fresh = await n.serviceA.issue(grant);
  for (const service of [n.serviceA, n.serviceB]) {
    assert.equal((await service.verify(issued.token)).valid, true);
    assert.equal((await service.verify(fresh.token)).valid, true);
  }
  const inside = new Date(T0.getTime() + 89 * DAY_MS);
  n.setNow(inside);
  assert.equal((await n.serviceB.verify(issued.token)).valid, true, 'day 89: still inside the window');
  // Past the window: the old issuer key no longer verifies anything, on A or on B.
  n.setNow(new Date(T0.getTime() + 91 * DAY_MS));
  const late = await n.serviceA.issue(grant);
  assert.equal((await n.serviceB.verify(late.token)).valid, true);
  const staleA = await n.serviceA.verify(issued.token);
  assert.equal(!staleA.valid && staleA.reason, 'signature_invalid');
  const stale = await n.serviceB.verify(issued.token);
  assert.equal(!stale.valid && stale.reason, 'signature_invalid', 'the old issuer key is no longer accepted');
});

test('HTTP: issue 201, verify 200 with a verdict, revoke 200, errors as {error, detail}', async (t) => {
  const api = await startNodeApp({ clock: manualClock(T0.toISOString()).clock });
  t.after(() => api.close());
  const admin = bearer(await api.key(['admin']));
  const reader = bearer(await api.key(['read']));
  const post = (url: string, headers: Record<string, string>, payload?: object) =>
    api.app.inject({ method: 'POST', url, headers, ...(payload ? { payload } : {}) });

  const issue = await post('/v1/capabilities', admin, { ...grant, ttl_seconds: 600 });
  assert.equal(issue.statusCode, 201);
  const issued = issue.json() as { id: string; token: string };
  const verify = await post('/v1/capabilities/verify', reader, { token: issued.token });
  assert.equal(verify.statusCode, 200);
  assert.equal(verify.json().valid, true);
  const revoke = await post(`/v1/capabilities/${issued.id}/revoke`, admin, { reason: 'done' });
  assert.equal(revoke.statusCode, 200);
  assert.equal(revoke.json().already_revoked, false);
  const again = await post('/v1/capabilities/verify', reader, { token: issued.token });
  assert.deepEqual(
    { valid: again.json().valid, reason: again.json().reason },
    { valid: false, reason: 'revoked' },
  );
  const tooLong = await post('/v1/capabilities', admin, { ...grant, ttl_seconds: 91 * 86_400 });
  assert.equal(tooLong.statusCode, 422);
  assert.equal(tooLong.json().error, 'ttl_too_long');
  const bad = await post('/v1/capabilities', admin, { verb: 'read' });
  assert.equal(bad.statusCode, 422);
  assert.equal(bad.json().error, 'validation_failed');
  const missing = await post('/v1/capabilities/nope-nope/revoke', admin);
  assert.equal(missing.statusCode, 404);
  assert.equal(missing.json().error, 'not_found');
});

test('route access on a composed node: verify needs read; issue and revoke need admin', async (t) => {
  const api = await startNodeApp({ clock: manualClock(T0.toISOString()).clock });
  t.after(() => api.close());
  const admin = bearer(await api.key(['admin']));
  const reader = bearer(await api.key(['read']));
  const post = (url: string, headers: Record<string, string>, payload: object) =>
    api.app.inject({ method: 'POST', url, headers, payload });
  const forbidden = (need: string) => ({ error: 'forbidden', detail: `${need} capability required` });

  const issued = await post('/v1/capabilities', admin, { ...grant, ttl_seconds: 600 });
  assert.equal(issued.statusCode, 201, 'admin may issue');
  const { id, token } = issued.json() as { id: string; token: string };
  const refusedIssue = await post('/v1/capabilities', reader, { ...grant, ttl_seconds: 600 });
  assert.equal(refusedIssue.statusCode, 403);
  assert.deepEqual(refusedIssue.json(), forbidden('admin'));

  assert.equal((await post('/v1/capabilities/verify', reader, { token })).statusCode, 200, 'read may verify');
  const refusedVerify = await post('/v1/capabilities/verify', admin, { token });
  assert.equal(refusedVerify.statusCode, 403, 'admin does not imply read');
  assert.deepEqual(refusedVerify.json(), forbidden('read'));

  const refusedRevoke = await post(`/v1/capabilities/${id}/revoke`, reader, {});
  assert.equal(refusedRevoke.statusCode, 403);
  assert.deepEqual(refusedRevoke.json(), forbidden('admin'));
  assert.equal((await post(`/v1/capabilities/${id}/revoke`, admin, {})).statusCode, 200, 'admin may revoke');
});
