// Two (and more) real node processes federating over mTLS on loopback: peering proves manifest AND
// certificate, replication is driven by wake, scopes are honoured, and every way a peer can fail to prove
// itself — unapproved, token/certificate mismatch, replay, impostor certificate, revocation — is refused
// with its reason.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { connect, type TLSSocket } from 'node:tls';
import { buildManifest } from '../../src/node/features/identity/manifest.ts';
import { loadOrCreateNodeKey } from '../../src/node/features/identity/node-key.ts';
import { clientTlsOptions } from '../../src/tls/policy.ts';
import { createMtlsServer } from '../../src/transport/https-server.ts';
import {
  addAndApprove,
  fact,
  federationGet,
  type NodeProcess,
  type PeerView,
  peerToken,
  startNodeProcess,
} from '../support/node-process.ts';
import { createTestCa, type TestCa, tempDir, testUri, writeMaterial } from '../support/pki.ts';
import { until } from '../support/reload.ts';
import { openStaticCredentials, silentLogger } from '../support/tls-peers.ts';

type Fact = { id: string; cid: string; scope: string; received_from: string | null; origin_node_id: string };

interface PeerListing {
  entity_uri: string;
  replication?: { failures: number; last_success_at: string | null; last_error: { reason: string } | null };
}

describe('federation between real node processes over mTLS', () => {
  let ca: TestCa;
  let root: string;
  let a: NodeProcess;
  let b: NodeProcess;
  const extra: NodeProcess[] = [];

  before(async () => {
    ca = await createTestCa();
    root = await mkdtemp(join(tmpdir(), 'tessera-federation-'));
    // A long pull interval: anything that arrives quickly arrived by wake.
    const env = { TESSERA_FEDERATION_PULL_INTERVAL_S: '3600' };
    [a, b] = await Promise.all([
      startNodeProcess({ name: 'a', ca, root, env }),
      startNodeProcess({ name: 'b', ca, root, env }),
    ]);
  });
  after(async () => {
    await Promise.all([a, b, ...extra].map((n) => n?.stop()));
    await rm(root, { recursive: true, force: true });
  });

  /** A federation pull made by hand with some node's TLS material and a token signed by its node key. */
  async function federationCall(
    target: NodeProcess,
    as: { tls: NodeProcess['tls']; dataDir: string },
    issuer: string,
    token?: string,
  ): Promise<{ status: number; body: { error?: string; detail?: string }; token: string }> {
    const jwt = token ?? (await peerToken(as.dataDir, issuer, target.entityUri));
    return { ...(await federationGet(target, as.tls, jwt)), token: jwt };
  }

  test('peers add proves the manifest and the certificate; approve needs the right fingerprint', async () => {
    const added = await a.api<PeerView & { federation_url: string }>('POST', '/v1/admin/peers', {
      url: b.federationUrl,
    });
    assert.equal(added.status, 201);
    assert.equal(added.body.entity_uri, b.entityUri);
    assert.equal(added.body.status, 'pending');
    assert.match(added.body.fingerprint, /^sha256:[0-9a-f]{64}$/);
    const wrong = await a.api<{ error: string }>('POST', `/v1/admin/peers/${added.body.id}/approve`, {
      fingerprint: `sha256:${'0'.repeat(64)}`,
    });
    assert.equal(wrong.status, 422);
    assert.equal(wrong.body.error, 'fingerprint_mismatch');
    const twice = await a.api<{ error: string }>('POST', '/v1/admin/peers', { url: b.federationUrl });
    assert.equal(twice.status, 409);
    assert.equal(twice.body.error, 'peer_exists');
    const approved = await a.api<PeerView>('POST', `/v1/admin/peers/${added.body.id}/approve`, {
      fingerprint: added.body.fingerprint,
    });
    assert.equal(approved.status, 200);
    assert.equal(approved.body.status, 'approved');
    // A pulls B at once, and B refuses: B has not approved A yet. A backs off (an hour here) ...
    const refused = await until('A’s first pull of B refused as not approved', async () => {
      const listed = await a.api<{ peers: PeerListing[] }>('GET', '/v1/admin/peers');
      return (
        listed.body.peers.find((p) => p.entity_uri === b.entityUri)?.replication?.last_error ?? undefined
      );
    });
    assert.equal(refused.reason, 'peer_call_failed:peer_not_approved');
    await addAndApprove(b, a);
  });

  test('the side that approved first pulls as soon as the other approves: its wake lifts that backoff', async () => {
    // ... until B's approval wakes A: A pulls at once, not an hour later.
    const pulled = await until('a clean pull of B by A', async () => {
      const listed = await a.api<{ peers: PeerListing[] }>('GET', '/v1/admin/peers');
      const replication = listed.body.peers.find((p) => p.entity_uri === b.entityUri)?.replication;
      return replication?.last_success_at ? replication : undefined;
    });
    assert.equal(pulled.failures, 0);
    const onB = await b.api<Fact>('POST', '/v1/facts', fact('test:from-b-1'));
    assert.equal(onB.status, 201);
    await until(
      'the fact asserted on B, on A',
      async () => (await a.api('GET', `/v1/facts/${onB.body.cid}`)).status === 200,
      {
        timeoutMs: 15_000,
      },
    );
  });

  test('a fact asserted on A arrives on B by wake; local-scope facts never leave A', async () => {
    const local = await a.api<Fact>('POST', '/v1/facts', fact('test:local-1', 'local'));
    const team = await a.api<Fact>('POST', '/v1/facts', fact('test:team-1', 'team'));
    const company = await a.api<Fact>('POST', '/v1/facts', fact('test:company-1', 'company'));
    assert.equal(company.status, 201);
    const arrived = await until(
      'the company fact on B',
      async () => {
        const found = await b.api<Fact>('GET', `/v1/facts/${company.body.cid}`);
        return found.status === 200 ? found.body : undefined;
      },
      { timeoutMs: 15_000 },
    );
    assert.equal(arrived.id, company.body.id, 'the record keeps its id');
    assert.equal(arrived.origin_node_id, a.entityUri);
    assert.equal(arrived.received_from, a.entityUri);
    // Written before the company fact, so a feed that would carry them has carried them by now.
    assert.equal((await b.api('GET', `/v1/facts/${local.body.cid}`)).status, 404, 'local never leaves');
    assert.equal((await b.api('GET', `/v1/facts/${team.body.cid}`)).status, 404, 'team only when allowed');
    // And it does not bounce back to A as a second record.
    const onA = await a.api<{ total: number }>('GET', '/v1/facts?entity=test:company-1');
    assert.equal(onA.body.total, 1);
  });

  test("widening a peer's scopes to team sends the team facts written before (the feed starts over)", async () => {
    const team = await a.api<Fact>('POST', '/v1/facts', fact('test:team-2', 'team'));
    const peers = await a.api<{ peers: (PeerView & { allowed_scopes: string[] })[] }>(
      'GET',
      '/v1/admin/peers',
    );
    const peerB = peers.body.peers.find((p) => p.entity_uri === b.entityUri) as PeerView;
    const widened = await a.api<{ allowed_scopes: string[] }>('POST', `/v1/admin/peers/${peerB.id}/approve`, {
      fingerprint: peerB.fingerprint,
      allowed_scopes: ['company', 'public', 'team'],
    });
    assert.deepEqual(widened.body.allowed_scopes, ['company', 'public', 'team']);
    await a.api('POST', '/v1/facts', fact('test:company-2', 'company')); // wakes B
    for (const cid of [team.body.cid]) {
      await until('the team fact on B', async () => (await b.api('GET', `/v1/facts/${cid}`)).status === 200, {
        timeoutMs: 15_000,
      });
    }
    // The earlier team fact too, although B's cursor had already passed it; and nothing twice.
    const earlier = await b.api<{ total: number }>('GET', '/v1/facts?entity=test:team-1');
    assert.equal(earlier.body.total, 1);
    const local = await b.api<{ total: number }>('GET', '/v1/facts?entity=test:local-1');
    assert.equal(local.body.total, 0, 'local still never leaves');
  });

  test('an unapproved node with a valid certificate from the same CA gets 403 on pull', async () => {
    const c = await startNodeProcess({ name: 'c', ca, root });
    extra.push(c);
    const result = await federationCall(a, c, c.entityUri);
    assert.equal(result.status, 403);
    assert.equal(result.body.error, 'peer_not_approved');
    // Even after C adds A on its own side, A has not approved C.
    await addAndApprove(c, a);
    const again = await federationCall(a, c, c.entityUri);
    assert.equal(again.status, 403);
    assert.equal(again.body.error, 'peer_not_approved');
  });

  test("a token whose iss differs from the connection's certificate → 401 token_binding_mismatch", async () => {
    // B's node key and token, but presented over C's TLS connection: neither can be borrowed.
    const c = extra[0] as NodeProcess;
    const token = await peerToken(b.dataDir, b.entityUri, a.entityUri);
    const result = await federationCall(a, c, b.entityUri, token);
    assert.equal(result.status, 401);
    assert.equal(result.body.error, 'token_binding_mismatch');
  });

  test('a valid token is accepted once; replayed → 401 token_replayed; wrong key or audience → 401', async () => {
    const first = await federationCall(a, b, b.entityUri);
    assert.equal(first.status, 200, JSON.stringify(first.body));
    const replay = await federationCall(a, b, b.entityUri, first.token);
    assert.equal(replay.status, 401);
    assert.equal(replay.body.error, 'token_replayed');
    // Signed with C's node key while claiming B: the signature does not verify with B's approved key.
    const forged = await peerToken((extra[0] as NodeProcess).dataDir, b.entityUri, a.entityUri);
    const forgedResult = await federationCall(a, b, b.entityUri, forged);
    assert.equal(forgedResult.status, 401);
    assert.equal(forgedResult.body.error, 'token_invalid');
    const wrongAudience = await peerToken(b.dataDir, b.entityUri, 'spiffe://test.example/node/elsewhere');
    const audienceResult = await federationCall(a, b, b.entityUri, wrongAudience);
    assert.equal(audienceResult.status, 401);
    assert.equal(audienceResult.body.error, 'token_invalid');
    const none = await federationGet(a, b.tls, undefined);
    assert.equal(none.status, 401);
    assert.equal(none.body.error, 'token_missing');
  });

  test('a peer whose certificate URI SAN differs from its manifest entity URI is refused at peers add', async (t) => {
    // An impostor: certificate for spiffe://…/node/mallory, manifest claiming to be node/d.
    const dir = await tempDir(t);
    const paths = await writeMaterial(dir, 'mallory', await ca.issue('mallory'), ca.certPem);
    const credentials = await openStaticCredentials(paths);
    const key = await loadOrCreateNodeKey({ dataDir: dir });
    const server = createMtlsServer({
      credentials,
      authorize: () => ({ allow: true }),
      logger: silentLogger,
    });
    server.get('/.well-known/tessera-manifest.json', async () =>
      buildManifest({
        nodeKey: key,
        entityUri: testUri('d'),
        tlsSpkiSha256: credentials.material.leaf.spkiSha256,
        now: new Date(),
      }),
    );
    await server.listen({ host: '127.0.0.1', port: 0 });
    t.after(async () => {
      await server.close();
      credentials.close();
    });
    const url = `https://127.0.0.1:${(server.server.address() as AddressInfo).port}`;
    const refused = await a.api<{ error: string; detail: string }>('POST', '/v1/admin/peers', { url });
    assert.equal(refused.status, 502);
    assert.equal(refused.body.error, 'peer_manifest_refused');
    assert.match(refused.body.detail, /tls_identity_mismatch/);
    const list = await a.api<{ peers: PeerView[] }>('GET', '/v1/admin/peers');
    assert.ok(!list.body.peers.some((p) => p.entity_uri === testUri('d')), 'nothing stored');
  });

  test('revoking a peer closes its open connection at once and refuses its next handshake', async () => {
    const peers = await a.api<{ peers: PeerView[] }>('GET', '/v1/admin/peers');
    const peerB = peers.body.peers.find((p) => p.entity_uri === b.entityUri) as PeerView;
    const material = {
      certPem: await readFile(b.tls.certPath, 'utf8'),
      keyPem: await readFile(b.tls.keyPath, 'utf8'),
      caPem: ca.certPem,
    };
    const port = Number(new URL(a.federationUrl).port);
    const open = (): Promise<TLSSocket> =>
      new Promise((resolve, reject) => {
        const socket = connect({
          ...clientTlsOptions(material),
          host: '127.0.0.1',
          port,
          checkServerIdentity: () => undefined,
        });
        socket.once('secureConnect', () => resolve(socket));
        socket.once('error', reject);
      });
    const socket = await open();
    // Prove the server admitted the connection: a request on it is answered.
    socket.write(`GET /.well-known/tessera HTTP/1.1\r\nHost: a\r\n\r\n`);
    await new Promise((resolve) => socket.once('data', resolve));
    const closed = new Promise((resolve) => socket.once('close', resolve));
    const revoked = await a.api<PeerView>('POST', `/v1/admin/peers/${peerB.id}/revoke`, {});
    assert.equal(revoked.body.status, 'revoked');
    await closed;
    const event = await a.proc.waitForEvent((e) => e.event === 'peer_revoked');
    assert.ok((event.closedConnections as number) >= 1);
    // The next handshake is refused by the gate with the deny-list reason.
    const next = await open().then(
      (s) =>
        new Promise<string>((resolve) => {
          s.write('GET /.well-known/tessera HTTP/1.1\r\nHost: a\r\n\r\n');
          s.once('data', () => resolve('answered'));
          s.once('close', () => resolve('closed'));
        }),
      () => 'closed',
    );
    assert.equal(next, 'closed');
    await a.proc.waitForEvent((e) => e.event === 'tls_peer_rejected' && e.reason === 'denied');
    const pull = await federationCall(a, b, b.entityUri).catch((error: Error) => ({ status: 0, error }));
    assert.notEqual(pull.status, 200);
  });

  test('at pull, a peer origin that now presents another identity is refused before a byte is sent', async (t) => {
    // A (approved by C) is replaced on its port by a server holding a valid certificate for another URI.
    const c = extra[0] as NodeProcess;
    const port = Number(new URL(a.federationUrl).port);
    await a.stop();
    const dir = await tempDir(t);
    const paths = await writeMaterial(dir, 'mallory', await ca.issue('mallory'), ca.certPem);
    const credentials = await openStaticCredentials(paths);
    let requests = 0;
    const server = createMtlsServer({
      credentials,
      authorize: () => ({ allow: true }),
      logger: silentLogger,
    });
    server.addHook('onRequest', async () => {
      requests++;
    });
    await server.listen({ host: '127.0.0.1', port });
    t.after(async () => {
      await server.close();
      credentials.close();
    });
    // C pulls from every approved peer when it starts.
    await c.stop();
    const restarted = await startNodeProcess({
      name: 'c',
      ca,
      root,
      reuse: { apiKey: c.apiKey, tls: c.tls },
    });
    extra.push(restarted);
    const rejected = await restarted.proc.waitForEvent(
      (e) => e.event === 'tls_peer_rejected' && e.side === 'client',
    );
    assert.equal(rejected.reason, 'uri_mismatch');
    assert.equal(requests, 0, 'no request byte reached the impostor');
  });
});
