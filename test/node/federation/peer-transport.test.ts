// The federation depends on the PeerTransport port, not on HTTPS: two nodes built by the real composition
// register each other, prove their manifests and replicate over an in-memory transport that carries the
// same requests into the other node's federation listener (fastify inject). Tokens, approval, manifest
// verification and feed validation all run above the port, so they hold over any wire. (What a hostile
// peer can send through a feed is tested over real mTLS in hostile-peer.test.ts.)
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { TesseraNode } from '../../../src/node/app/compose.ts';
import { NodeError } from '../../../src/node/errors.ts';
import { FEDERATION_PATHS } from '../../../src/node/features/federation/https/paths.ts';
import type {
  FeedRequest,
  PeerAddress,
  PeerTransport,
} from '../../../src/node/features/federation/peer-transport.ts';
import { ManifestError } from '../../../src/node/features/identity/manifest.ts';
import { counterValue } from '../../support/metrics.ts';
import { bearer, FACT, manualClock, type NodeApp, startNodeApp } from '../../support/node-app.ts';

/** Carries each call into the target node's federation app; counts what it carried. */
class InMemoryTransport implements PeerTransport {
  readonly calls: string[] = [];
  constructor(private readonly nodes: Map<string, TesseraNode>) {}

  #node(url: string): TesseraNode & { federation: NonNullable<TesseraNode['federation']> } {
    const node = this.nodes.get(new URL(url).origin);
    if (!node?.federation) throw new ManifestError('peer_unreachable', `${url}: no such node`);
    return node as TesseraNode & { federation: NonNullable<TesseraNode['federation']> };
  }

  async fetchManifest(federationUrl: string) {
    this.calls.push('manifest');
    const response = await this.#node(federationUrl).federation.inject({
      method: 'GET',
      url: FEDERATION_PATHS.manifest,
    });
    if (response.statusCode !== 200)
      throw new ManifestError('manifest_fetch_failed', `${federationUrl} answered ${response.statusCode}`);
    return { body: response.json(), identity: null, secure: false, origin: new URL(federationUrl).origin };
  }

  pullFacts(peer: PeerAddress, token: string, feed: FeedRequest) {
    return this.#call(peer, token, 'GET', `${FEDERATION_PATHS.facts}?${query(feed)}`);
  }

  pullRevocations(peer: PeerAddress, token: string, feed: FeedRequest) {
    return this.#call(peer, token, 'GET', `${FEDERATION_PATHS.revocations}?${query(feed)}`);
  }

  async wake(peer: PeerAddress, token: string) {
    await this.#call(peer, token, 'POST', FEDERATION_PATHS.wake);
  }

  async close() {}

  async #call(peer: PeerAddress, token: string, method: 'GET' | 'POST', url: string): Promise<unknown> {
    this.calls.push(`${method} ${url.split('?')[0]}`);
    const response = await this.#node(peer.federationUrl).federation.inject({
      method,
      url,
      headers: bearer(token),
    });
    if (response.statusCode >= 400)
      throw new NodeError('peer_call_failed', `${peer.entityUri} answered ${response.statusCode}`, {
        peer_error: response.json().error,
      });
    return response.json();
  }
}

const query = (feed: FeedRequest) =>
  new URLSearchParams({ limit: String(feed.limit), ...(feed.cursor ? { cursor: feed.cursor } : {}) });

const A = { uri: 'spiffe://example.org/node/a', url: 'http://127.0.0.11:7001' };
const B = { uri: 'spiffe://example.org/node/b', url: 'http://127.0.0.12:7002' };

describe('federation over a non-HTTPS peer transport', () => {
  const time = manualClock();
  const nodes = new Map<string, TesseraNode>();
  const wires = { a: new InMemoryTransport(nodes), b: new InMemoryTransport(nodes) };
  let a: NodeApp;
  let b: NodeApp;
  let adminA: string;
  let adminB: string;

  before(async () => {
    const env = (n: typeof A) => ({ TESSERA_ENTITY_URI: n.uri, TESSERA_NODE_URL: n.url });
    a = await startNodeApp({ clock: time.clock, env: env(A), peerTransport: () => wires.a });
    b = await startNodeApp({ clock: time.clock, env: env(B), peerTransport: () => wires.b });
    nodes.set(A.url, a.node);
    nodes.set(B.url, b.node);
    adminA = await a.key(['admin']);
    adminB = await b.key(['admin']);
  });
  after(() => Promise.all([a?.close(), b?.close()]));

  async function peer(on: NodeApp, admin: string, url: string): Promise<string> {
    const added = await on.app.inject({
      method: 'POST',
      url: '/v1/admin/peers',
      headers: { ...bearer(admin), 'content-type': 'application/json' },
      payload: JSON.stringify({ url }),
    });
    assert.equal(added.statusCode, 201, added.body);
    const { id, fingerprint } = added.json<{ id: string; fingerprint: string }>();
    const approved = await on.app.inject({
      method: 'POST',
      url: `/v1/admin/peers/${id}/approve`,
      headers: { ...bearer(admin), 'content-type': 'application/json' },
      payload: JSON.stringify({ fingerprint }),
    });
    assert.equal(approved.statusCode, 200, approved.body);
    return id;
  }

  test('a pull before approval is refused by the peer with its reason, above the port', async () => {
    const aOnB = await peer(b, adminB, A.url);
    // a has not approved b yet: a refuses the feed (peer_not_approved), b counts a failed pull.
    await b.node.puller.pullNow(aOnB);
    assert.equal(
      await counterValue(a.node.metrics, 'tessera_federation_rejections_total', {
        reason: 'peer_not_approved',
      }),
      1,
    );
    assert.equal(
      await counterValue(b.node.metrics, 'tessera_federation_pulls_total', {
        peer: A.uri,
        result: 'failure',
      }),
      1,
    );
  });

  test('registration, manifest proof and replication all run over the port', async () => {
    await peer(a, adminA, B.url);
    const writer = await a.key(['write']);
    const written = await a.app.inject({
      method: 'POST',
      url: '/v1/facts',
      headers: { ...bearer(writer), 'content-type': 'application/json' },
      payload: JSON.stringify(FACT),
    });
    assert.equal(written.statusCode, 201, written.body);
    const aOnB = b.node.peers.byEntityUri(A.uri)?.id;
    assert.ok(aOnB);
    await b.node.puller.pullNow(aOnB);
    const reader = await b.key(['read']);
    const read = await b.app.inject({
      method: 'GET',
      url: `/v1/facts?entity=${encodeURIComponent(FACT.entity)}`,
      headers: bearer(reader),
    });
    const facts = read.json<{ facts: { cid: string; origin_node_id: string; received_from: string }[] }>()
      .facts;
    assert.equal(facts.length, 1);
    assert.equal(facts[0]?.cid, written.json<{ cid: string }>().cid);
    assert.equal(facts[0]?.origin_node_id, A.uri);
    assert.equal(facts[0]?.received_from, A.uri);
    assert.ok(wires.b.calls.includes('manifest'), 'the manifest came over the port');
    assert.ok(wires.b.calls.includes(`GET ${FEDERATION_PATHS.facts}`), 'the feed came over the port');
    assert.ok(wires.b.calls.includes(`GET ${FEDERATION_PATHS.revocations}`), 'revocations too');
  });

  test("a peer's address allowlist (allowed_cidrs): its requests from elsewhere are refused (peer_address_not_allowed)", async () => {
    const bOnA = a.node.peers.byEntityUri(B.uri);
    const aOnB = b.node.peers.byEntityUri(A.uri)?.id;
    assert.ok(bOnA && aOnB);
    const allow = async (cidrs: string[]) => {
      const approved = await a.app.inject({
        method: 'POST',
        url: `/v1/admin/peers/${bOnA.id}/approve`,
        headers: { ...bearer(adminA), 'content-type': 'application/json' },
        payload: JSON.stringify({ fingerprint: bOnA.fingerprint, allowed_cidrs: cidrs }),
      });
      assert.equal(approved.statusCode, 200, approved.body);
      return approved.json<{ allowed_cidrs?: string[] }>();
    };
    const refusals = () =>
      counterValue(a.node.metrics, 'tessera_federation_rejections_total', {
        reason: 'peer_address_not_allowed',
      });
    assert.deepEqual((await allow(['10.0.0.0/8'])).allowed_cidrs, ['10.0.0.0/8']);
    await b.node.puller.pullNow(aOnB);
    assert.equal(await refusals(), 1, "b's pull (from 127.0.0.1) is refused");
    // inject requests come from 127.0.0.1: allowed once listed.
    assert.deepEqual((await allow(['127.0.0.1'])).allowed_cidrs, ['127.0.0.1/32']);
    await b.node.puller.pullNow(aOnB);
    assert.equal(await refusals(), 1, 'allowed now');
    assert.equal((await allow([])).allowed_cidrs, undefined, '[] removes the allowlist');
    const bad = await a.app.inject({
      method: 'POST',
      url: `/v1/admin/peers/${bOnA.id}/approve`,
      headers: { ...bearer(adminA), 'content-type': 'application/json' },
      payload: JSON.stringify({ fingerprint: bOnA.fingerprint, allowed_cidrs: ['10.0.0.0/40'] }),
    });
    assert.equal(bad.statusCode, 422);
    assert.equal(bad.json<{ error: string }>().error, 'validation_failed');
  });
});
