// Tokens across replicas of one node: a peer token (its jti) accepted by one replica is refused as a replay
// by the other, also when both receive it at the same moment (exactly one accepts it), because the seen
// jtis are rows in the shared database. A capability issued on one replica verifies on the other, and
// once revoked on one (by its jti, the capability id) the other refuses it.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { testDatabase } from '../../store/postgres-fixtures.ts';
import { federationGet, peerToken } from '../../support/node-process.ts';
import { createTestCa } from '../../support/pki.ts';
import { until } from '../../support/reload.ts';
import { addAndApproveUrl, startTlsNode, type TlsNode } from '../../support/tls-node.ts';
import { type Replicas, startReplicas } from './support.ts';

const database = testDatabase();
let root: string;
let peer: TlsNode;
let replicas: Replicas;

before(async () => {
  const ca = await createTestCa();
  root = await mkdtemp(join(tmpdir(), 'tessera-replay-'));
  peer = await startTlsNode({ name: 'p', ca, root });
  replicas = await startReplicas(await database(), { ca, root });
  // The node approves the peer through a; b reads the approval from the database.
  const approved = await addAndApproveUrl(replicas.a, peer.node.federationUrl);
  await until(
    'b knows the peer as approved',
    () => replicas.b.node.peers.get(approved.id)?.status === 'approved',
    { timeoutMs: 5000 },
  );
});
after(async () => {
  await replicas?.close();
  await peer?.close();
  await rm(root, { recursive: true, force: true });
});

/** A fresh peer token of the peer for the node (both replicas are that node: one audience). */
const freshToken = () => peerToken(peer.dataDir, peer.entityUri, replicas.a.entityUri);

/** The peer's federation read on a replica with `token`, over the peer's own mTLS material. */
const pull = (replica: TlsNode, token: string) =>
  federationGet({ federationUrl: replica.node.federationUrl }, peer.tls, token);

test('a peer token used on one replica is refused as a replay by the other', async () => {
  const { a, b } = replicas;
  const token = await freshToken();
  const first = await pull(a, token);
  assert.equal(first.status, 200, JSON.stringify(first.body));
  const replay = await pull(b, token);
  assert.equal(replay.status, 401, JSON.stringify(replay.body));
  assert.equal(replay.body.error, 'token_replayed');

  const other = await freshToken();
  assert.equal((await pull(b, other)).status, 200, 'the other way round');
  const back = await pull(a, other);
  assert.equal(back.status, 401);
  assert.equal(back.body.error, 'token_replayed');
});

test('one token sent to both replicas at once is accepted by exactly one of them', async () => {
  const { a, b } = replicas;
  for (let round = 0; round < 10; round++) {
    const token = await freshToken();
    const answers = await Promise.all([pull(a, token), pull(b, token)]);
    const statuses = answers.map((answer) => answer.status).sort();
    assert.deepEqual(statuses, [200, 401], `round ${round}: ${JSON.stringify(answers)}`);
    const refused = answers.find((answer) => answer.status === 401);
    assert.equal(refused?.body.error, 'token_replayed');
  }
});

test('a capability issued on one replica verifies on the other; revoked on one, the other refuses it', async () => {
  const { a, b } = replicas;
  const issued = await a.api<{ id: string; token: string }>('POST', '/v1/capabilities', {
    subject: 'spiffe://test.example/client/c',
    verb: 'read',
    object: 'test:doc/1',
    ttl_seconds: 3600,
  });
  assert.equal(issued.status, 201, JSON.stringify(issued.body));
  const verify = (replica: TlsNode) =>
    replica.api<{ valid: boolean; reason?: string }>('POST', '/v1/capabilities/verify', {
      token: issued.body.token,
    });
  assert.equal((await verify(b)).body.valid, true, 'b verifies what a issued (one issuer key)');
  const revoked = await a.api('POST', `/v1/capabilities/${issued.body.id}/revoke`, { reason: 'test' });
  assert.equal(revoked.status, 200, JSON.stringify(revoked.body));
  const after = await verify(b);
  assert.equal(after.body.valid, false);
  assert.equal(after.body.reason, 'revoked');
});
