// API keys and peers changed on one replica take effect on every replica at once: the change is announced
// through the store (PostgreSQL NOTIFY), and each replica drops its cached verification of a revoked key,
// and reads the changed peer again (approval: it pulls; revocation: its gate refuses the peer).
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { request } from 'undici';
import { testDatabase } from '../../store/postgres-fixtures.ts';
import type { PeerView } from '../../support/node-process.ts';
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
  root = await mkdtemp(join(tmpdir(), 'tessera-revoke-'));
  peer = await startTlsNode({ name: 'p', ca, root });
  replicas = await startReplicas(await database(), { ca, root });
});
after(async () => {
  await replicas?.close();
  await peer?.close();
  await rm(root, { recursive: true, force: true });
});

async function readWith(node: TlsNode, token: string): Promise<number> {
  const response = await request(new URL('/v1/facts', node.node.apiUrl), {
    headers: { authorization: `Bearer ${token}` },
  });
  await response.body.dump();
  return response.statusCode;
}

test('an API key revoked on one replica is refused by the other at once, though it had it cached', async () => {
  const { a, b } = replicas;
  const created = await a.api<{ id: string; key: string }>('POST', '/v1/admin/api-keys', {
    entity_uri: 'spiffe://test.example/client/c',
    permissions: ['read'],
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  assert.equal(await readWith(b, created.body.key), 200, 'b verifies the key (and caches it for 60 s)');
  assert.equal((await a.api('DELETE', `/v1/admin/api-keys/${created.body.id}`)).status, 200);
  await until('b refuses the revoked key', async () => (await readWith(b, created.body.key)) === 401, {
    timeoutMs: 3000,
  });
});

test('a peer approved on one replica is approved on the other; revoked on one, the other refuses it', async () => {
  const { a, b } = replicas;
  // The peer knows the node at b's URL; the node approves it through a.
  const node = await addAndApproveUrl(peer, b.node.federationUrl);
  const approved = await addAndApproveUrl(a, peer.node.federationUrl);
  await until('b knows the peer as approved', () => b.node.peers.get(approved.id)?.status === 'approved', {
    timeoutMs: 3000,
  });
  await peer.node.puller.pullNow(node.id);
  assert.equal(peer.node.puller.health(node.id).failures, 0, 'b serves the peer its feed');

  const revoked = await a.api<PeerView>('POST', `/v1/admin/peers/${approved.id}/revoke`);
  assert.equal(revoked.status, 200, JSON.stringify(revoked.body));
  await until('b knows the peer as revoked', () => b.node.peers.get(approved.id)?.status === 'revoked', {
    timeoutMs: 3000,
  });
  await peer.node.puller.pullNow(node.id);
  assert.ok(peer.node.puller.health(node.id).failures > 0, 'b refuses the revoked peer');
});
