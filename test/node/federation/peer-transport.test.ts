// The federation depends on the PeerTransport port, not on HTTPS: two nodes built by the real composition
// register each other, prove their manifests and replicate over an in-memory transport that carries the
// same requests into the other node's federation listener (fastify inject). Tokens, approval, manifest
// verification and feed validation all run above the port, so they hold over any wire.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { pino } from 'pino';
import type { TesseraNode } from '../../../src/node/app/compose.ts';
import { NodeError } from '../../../src/node/errors.ts';
import { factCid } from '../../../src/node/features/facts/cid.ts';
import { factId } from '../../../src/node/features/facts/fact-id.ts';
import { FEDERATION_PATHS } from '../../../src/node/features/federation/https/paths.ts';
import type {
  FeedRequest,
  PeerAddress,
  PeerTransport,
} from '../../../src/node/features/federation/peer-transport.ts';
import { ManifestError } from '../../../src/node/features/identity/manifest.ts';
import type { FactRecord } from '../../../src/store/ports/facts.ts';
import { counterValue } from '../../support/metrics.ts';
import { bearer, FACT, manualClock, type NodeApp, startNodeApp } from '../../support/node-app.ts';

/** Carries each call into the target node's federation app; counts what it carried. */
class InMemoryTransport implements PeerTransport {
  readonly calls: string[] = [];
  /** A hostile peer's edit of each feed page before it is delivered. */
  tamper: ((page: FeedPage, feed: FeedRequest) => FeedPage) | undefined;
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

  async pullFacts(peer: PeerAddress, token: string, feed: FeedRequest) {
    const page = (await this.#call(
      peer,
      token,
      'GET',
      `${FEDERATION_PATHS.facts}?${query(feed)}`,
    )) as FeedPage;
    return this.tamper ? this.tamper(page, feed) : page;
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

type FeedPage = { facts: FactRecord[]; cursor: string; more: boolean };

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
  const logged: { event?: string }[] = [];

  before(async () => {
    const env = (n: typeof A) => ({ TESSERA_ENTITY_URI: n.uri, TESSERA_NODE_URL: n.url });
    a = await startNodeApp({ clock: time.clock, env: env(A), peerTransport: () => wires.a });
    b = await startNodeApp({
      clock: time.clock,
      logger: pino({ level: 'warn' }, { write: (line: string) => void logged.push(JSON.parse(line)) }),
      env: { ...env(B), TESSERA_FEDERATION_MAX_PAGES_PER_CYCLE: '5' },
      peerTransport: () => wires.b,
    });
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

  test('a far-future fact on a page is refused alone (clock_skew) and counted; local writes keep working', async () => {
    const writer = await a.key(['write']);
    const post = (on: NodeApp, token: string, entity: string) =>
      on.app.inject({
        method: 'POST',
        url: '/v1/facts',
        headers: { ...bearer(token), 'content-type': 'application/json' },
        payload: JSON.stringify({ ...FACT, entity }),
      });
    assert.equal((await post(a, writer, 'acme:site/honest')).statusCode, 201);
    // The peer slips a well-formed fact (valid CID) dated at the end of time in front of the honest one.
    wires.b.tamper = (page) => {
      const honest = page.facts[0];
      if (!honest) return page;
      const content = { ...honest, entity: 'acme:site/from-the-future' };
      // A well-formed id (derived from its CID), so the only thing wrong is the date.
      const cid = factCid(content);
      const future = { ...content, id: factId(cid), hlc: '999999999999999-999998', cid };
      return { ...page, facts: [future, ...page.facts] };
    };
    const aOnB = b.node.peers.byEntityUri(A.uri)?.id as string;
    const refusedBefore = await counterValue(b.node.metrics, 'tessera_federation_facts_refused_total', {
      peer: A.uri,
      reason: 'clock_skew',
    });
    await b.node.puller.pullNow(aOnB);
    wires.b.tamper = undefined;
    assert.equal(
      await counterValue(b.node.metrics, 'tessera_federation_facts_refused_total', {
        peer: A.uri,
        reason: 'clock_skew',
      }),
      refusedBefore + 1,
    );
    const reader = await b.key(['read']);
    const get = (entity: string) =>
      b.app.inject({
        method: 'GET',
        url: `/v1/facts?entity=${encodeURIComponent(entity)}`,
        headers: bearer(reader),
      });
    assert.equal((await get('acme:site/from-the-future')).json<{ total: number }>().total, 0, 'never stored');
    assert.equal(
      (await get('acme:site/honest')).json<{ total: number }>().total,
      1,
      'the honest fact arrived',
    );
    const local = await post(b, await b.key(['write']), 'acme:site/written-on-b');
    assert.equal(local.statusCode, 201, local.body);
    assert.ok(
      local.json<{ hlc: string }>().hlc < '002000000000000-000000',
      "b's clock was not adopted from the future",
    );
    assert.equal(
      b.node.puller.health(aOnB).degraded,
      'facts_refused:clock_skew',
      'the peer shows as degraded',
    );
  });

  /** Writes a fact on a (so b's next pull has a page to tamper with); returns a's peer id on b. */
  async function carrierFact(entity: string): Promise<string> {
    const written = await a.app.inject({
      method: 'POST',
      url: '/v1/facts',
      headers: { ...bearer(await a.key(['write'])), 'content-type': 'application/json' },
      payload: JSON.stringify({ ...FACT, entity }),
    });
    assert.equal(written.statusCode, 201, written.body);
    return b.node.peers.byEntityUri(A.uri)?.id as string;
  }

  test('a page of 100 refused facts: all counted, a few logged', async () => {
    const aOnB = await carrierFact('acme:site/carrier');
    wires.b.tamper = (page) => {
      const base = page.facts[0];
      if (!base) return page;
      const future = Array.from({ length: 100 }, (_, i) => {
        const content = { ...base, entity: `acme:future/${i}` };
        const cid = factCid(content);
        return { ...content, id: factId(cid), hlc: '999999999999999-000000', cid };
      });
      return { ...page, facts: future };
    };
    const counted = () =>
      counterValue(b.node.metrics, 'tessera_federation_facts_refused_total', {
        peer: A.uri,
        reason: 'clock_skew',
      });
    const before = await counted();
    const linesBefore = logged.filter((line) => line.event === 'federation_fact_refused').length;
    await b.node.puller.pullNow(aOnB);
    wires.b.tamper = undefined;
    assert.equal(await counted(), before + 100);
    const lines = logged.filter((line) => line.event === 'federation_fact_refused').length - linesBefore;
    assert.ok(lines >= 1 && lines <= 10, `${lines} log lines for 100 refusals`);
  });

  test('a fact claiming to originate at the pulling node is refused (origin_spoofed), never stored as its own', async () => {
    const aOnB = await carrierFact('acme:site/spoof-carrier');
    wires.b.tamper = (page) => {
      const base = page.facts[0];
      if (!base) return page;
      const content = { ...base, entity: 'acme:site/spoofed' };
      return {
        ...page,
        facts: [{ ...content, id: 'spoofed-1', origin_node_id: B.uri, cid: factCid(content) }],
      };
    };
    const counted = () =>
      counterValue(b.node.metrics, 'tessera_federation_facts_refused_total', {
        peer: A.uri,
        reason: 'origin_spoofed',
      });
    const before = await counted();
    await b.node.puller.pullNow(aOnB);
    wires.b.tamper = undefined;
    assert.equal(await counted(), before + 1);
    assert.equal(await b.node.store.getFact('spoofed-1'), null);
  });

  const facts = () => wires.b.calls.filter((call) => call === `GET ${FEDERATION_PATHS.facts}`).length;

  test('an endless feed (more: true, a new cursor every page) gets 5 pages per cycle, not forever', async () => {
    const aOnB = b.node.peers.byEntityUri(A.uri)?.id as string;
    let n = 0;
    wires.b.tamper = (page) => ({ facts: [], cursor: `${page.cursor}~${++n}`, more: true });
    const before = facts();
    await b.node.puller.pullNow(aOnB);
    wires.b.tamper = undefined;
    assert.equal(facts() - before, 5, 'TESSERA_FEDERATION_MAX_PAGES_PER_CYCLE pages, then the cycle ends');
    assert.equal(
      await counterValue(b.node.metrics, 'tessera_federation_pulls_total', { peer: A.uri, result: 'capped' }),
      1,
    );
  });

  test('a stalled cursor ends the cycle and flags the peer degraded (metrics, audit, peers list); a clean pull clears it', async () => {
    const aOnB = b.node.peers.byEntityUri(A.uri)?.id as string;
    wires.b.tamper = (page, feed) => ({ facts: [], cursor: feed.cursor ?? page.cursor, more: true });
    const before = facts();
    await b.node.puller.pullNow(aOnB);
    wires.b.tamper = undefined;
    assert.equal(facts() - before, 1, 'one page, not a loop');
    assert.equal(b.node.puller.health(aOnB).degraded, 'cursor_stalled');
    assert.equal(await counterValue(b.node.metrics, 'tessera_federation_peer_degraded', { peer: A.uri }), 1);
    const listed = await b.app.inject({ method: 'GET', url: '/v1/admin/peers', headers: bearer(adminB) });
    const view = listed.json<{ peers: { entity_uri: string; replication: { degraded: string | null } }[] }>();
    assert.equal(view.peers.find((p) => p.entity_uri === A.uri)?.replication.degraded, 'cursor_stalled');
    const audited = await b.node.store.listAudit({ event_type: 'federation_peer_degraded' }, 10);
    assert.deepEqual(
      audited.entries.map((e) => e.detail.reason),
      ['facts_refused:clock_skew', 'facts_refused:origin_spoofed', 'cursor_stalled'],
    );
    await b.node.puller.pullNow(aOnB);
    assert.equal(b.node.puller.health(aOnB).degraded, null, 'recovered');
    assert.equal(await counterValue(b.node.metrics, 'tessera_federation_peer_degraded', { peer: A.uri }), 0);
  });
});
