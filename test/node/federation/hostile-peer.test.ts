// Hostile peers (issue 9). A victim node V (real node, real mTLS, in-process) replicates from an honest
// node H and from E, a fake peer built on the library's own mTLS server with a real certificate from the
// same CA and a real manifest signed by its own node key (test/support/hostile-peer.ts); V registers and
// approves E through its admin API like any peer. E then serves a scripted feed, one scenario per finding:
//   1. far-future HLC                → clock_skew, V's clock not adopted
//   2. fact id squat                 → id_conflict, the genuine fact stored whichever arrives first
//   3. forged origin                 → origin_unverified / origin_spoofed; faithful relays still work
//   4. endless / stalled / trickling feeds → page cap (`capped`), cursor_stalled (degraded), total deadline;
//      what a feed says is still waiting → the lag in facts (bounded), the last error kept
//   and a clock running ahead → its skew on the metrics, the peers list and the status page
//   5. unbounded input               → attested caps (validation_failed); deep, non-UTF-8 and duplicate-key
//                                      pages refused whole, V healthy, the peer backs off
// In each: the refusal is counted with its exact reason; nothing wrong is stored (V's whole fact table is
// compared with a ledger of what it must hold); V still accepts a local write with a sane HLC; and a fact
// written on H reaches V when V pulls H.
// Findings 6–8 are tested where they live: connection bounds in test/node/connection-bounds.test.ts, log
// flooding in test/tls/log-sampling.test.ts (and the sampled refusal log below), disk full / read-only store
// in test/node/readiness.test.ts.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { request } from 'undici';
import { factCid } from '../../../src/node/features/facts/cid.ts';
import { factId } from '../../../src/node/features/facts/fact-id.ts';
import type { FactRecord } from '../../../src/store/ports/facts.ts';
import { content, type HostilePeer, hlcAt, record, startHostilePeer } from '../../support/hostile-peer.ts';
import { counterValue } from '../../support/metrics.ts';
import { fact } from '../../support/node-process.ts';
import { createTestCa } from '../../support/pki.ts';
import { until } from '../../support/reload.ts';
import { addAndApproveUrl, startTlsNode, type TlsNode } from '../../support/tls-node.ts';

type Fact = FactRecord;
type PeerListing = {
  peers: { entity_uri: string; replication: { degraded: string | null; failures: number } }[];
};

const MAX_PAGES = 5;
const PAGE_TIMEOUT_MS = 2500;
const FAR_FUTURE = '999999999999999-999998';
/** No scenario may hang: a regression that loops or never times out fails here. */
const LIMIT = { timeout: 30_000 };

describe('a hostile approved peer cannot corrupt, stall or exhaust a node', { timeout: 120_000 }, () => {
  let root: string;
  let v: TlsNode;
  let h: TlsNode;
  let e: HostilePeer;
  let hOnV: string;
  let eOnV: string;
  /** What V must hold, exactly: `cid id origin received_from hlc` per fact. */
  const ledger = new Map<string, string>();
  const expect = (f: Pick<Fact, 'cid' | 'id' | 'origin_node_id' | 'hlc'>, receivedFrom: string | null) =>
    ledger.set(f.cid, `${f.cid} ${f.id} ${f.origin_node_id} ${receivedFrom} ${f.hlc}`);

  before(async () => {
    const ca = await createTestCa();
    root = await mkdtemp(join(tmpdir(), 'tessera-hostile-'));
    // A long interval: every pull in these tests is one the test asked for (or a wake), never a timer.
    const env = { TESSERA_FEDERATION_PULL_INTERVAL_S: '3600' };
    e = await startHostilePeer({ ca, name: 'hostile', dir: root });
    [v, h] = await Promise.all([
      startTlsNode({
        name: 'victim',
        ca,
        root,
        env: {
          ...env,
          TESSERA_FEDERATION_MAX_PAGES_PER_CYCLE: String(MAX_PAGES),
          TESSERA_FEDERATION_PAGE_TIMEOUT_MS: String(PAGE_TIMEOUT_MS),
        },
      }),
      startTlsNode({ name: 'honest', ca, root, env }),
    ]);
    hOnV = (await addAndApproveUrl(v, h.node.federationUrl)).id;
    await addAndApproveUrl(h, v.node.federationUrl);
    eOnV = (await addAndApproveUrl(v, e.url)).id;
    // Approval starts a pull at once; let those first cycles finish before the scenarios script E.
    await Promise.all([v.node.puller.pullNow(hOnV), v.node.puller.pullNow(eOnV)]);
    assert.ok(e.feedCalls.length >= 1, 'V pulled E over mTLS after approving it');
    assert.equal(v.node.puller.health(eOnV).degraded, null);
  });
  after(async () => {
    // E first: closing it ends any answer it still trickles, which a node's close would wait for.
    await e?.close();
    await Promise.all([v?.close(), h?.close()]);
    await rm(root, { recursive: true, force: true });
  });

  /** Refused-fact counters on V for one peer (E unless told), by reason. */
  async function refusals(peer = e.entityUri): Promise<Record<string, number>> {
    const metric = v.node.metrics.getSingleMetric('tessera_federation_facts_refused_total');
    assert.ok(metric);
    const { values } = await metric.get();
    return Object.fromEntries(
      values.filter((x) => x.labels.peer === peer).map((x) => [String(x.labels.reason), x.value]),
    );
  }
  /** What was refused since `before`, by reason (reasons that did not move are left out). */
  async function refusedSince(before: Record<string, number>): Promise<Record<string, number>> {
    const now = await refusals();
    return Object.fromEntries(
      Object.entries(now)
        .map(([reason, n]) => [reason, n - (before[reason] ?? 0)] as const)
        .filter(([, n]) => n !== 0),
    );
  }
  const pulls = (result: string) =>
    counterValue(v.node.metrics, 'tessera_federation_pulls_total', { peer: e.entityUri, result });
  const pullE = () => v.node.puller.pullNow(eOnV);
  const notOnV = async (idOrCid: string) => {
    assert.equal((await v.api('GET', `/v1/facts/${idOrCid}`)).status, 404, `${idOrCid} is not on V`);
  };
  const pullFailures = () =>
    v.logs.filter((l) => l.event === 'federation_pull_failed' && l.peer === e.entityUri).map((l) => l.error);

  /** V's whole fact table equals the ledger: nothing E sent wrongly is stored, nothing genuine missing. */
  async function assertLedger(): Promise<void> {
    const { facts } = await v.node.store.listFacts({}, 10_000);
    const held = facts.map((f) => `${f.cid} ${f.id} ${f.origin_node_id} ${f.received_from} ${f.hlc}`);
    assert.deepEqual(held.sort(), [...ledger.values()].sort());
  }

  /** V stays writable with a sane clock, keeps replicating from H, and holds exactly the ledger. */
  async function assertStillServing(tag: string): Promise<void> {
    const local = await v.api<Fact>('POST', '/v1/facts', fact(`test:victim/${tag}`));
    assert.equal(local.status, 201, JSON.stringify(local.body));
    const wall = Number(local.body.hlc.slice(0, 15));
    assert.ok(wall <= Date.now() + 60_000, `V's clock was not pushed ahead: ${local.body.hlc}`);
    expect(local.body, null);
    const honest = await h.api<Fact>('POST', '/v1/facts', fact(`test:honest/${tag}`));
    assert.equal(honest.status, 201, JSON.stringify(honest.body));
    await v.node.puller.pullNow(hOnV);
    const arrived = await v.api<Fact>('GET', `/v1/facts/${honest.body.id}`);
    assert.equal(arrived.status, 200, `H's fresh fact reached V (${tag})`);
    assert.equal(arrived.body.cid, honest.body.cid);
    assert.equal(arrived.body.origin_node_id, h.entityUri);
    assert.equal(arrived.body.received_from, h.entityUri);
    expect(honest.body, h.entityUri);
    assert.deepEqual(await refusals(h.entityUri), {}, 'nothing from H was ever refused');
    assert.equal(v.node.puller.health(hOnV).degraded, null, 'H is not degraded');
    await assertLedger();
  }

  test(
    '1. a far-future HLC is refused (clock_skew) and never adopted; good facts on the page are kept',
    LIMIT,
    async () => {
      const before = await refusals();
      const future = record(content('test:hostile/end-of-time'), {
        origin: e.entityUri,
        signer: e.key,
        hlc: FAR_FUTURE,
      });
      const ahead = record(content('test:hostile/two-minutes-ahead'), {
        origin: e.entityUri,
        signer: e.key,
        hlc: hlcAt(120_000),
      });
      const good = record(content('test:hostile/good-1'), { origin: e.entityUri, signer: e.key });
      e.serve([{ facts: [future, ahead, good], cursor: 'skew-1' }]);
      await pullE();
      assert.deepEqual(await refusedSince(before), { clock_skew: 2 });
      await notOnV(future.id);
      await notOnV(ahead.cid);
      const kept = await v.api<Fact>('GET', `/v1/facts/${good.id}`);
      assert.equal(kept.status, 200, 'the good fact on the same page is stored');
      assert.equal(kept.body.received_from, e.entityUri);
      expect(good, e.entityUri);
      assert.equal(await v.node.store.getPullCursor(eOnV), 'skew-1', 'the cursor moved past the page');
      assert.equal(v.node.puller.health(eOnV).degraded, 'facts_refused:clock_skew');
      e.reset();
      await assertStillServing('skew');
    },
  );

  test('a page of 100 refused facts: every one counted, a few lines logged', LIMIT, async () => {
    const before = await refusals();
    const logged = () =>
      v.logs.filter((l) => l.event === 'federation_fact_refused' && l.peer === e.entityUri).length;
    const linesBefore = logged();
    const facts = Array.from({ length: 100 }, (_, i) =>
      record(content(`test:hostile/future-${i}`), { origin: e.entityUri, signer: e.key, hlc: FAR_FUTURE }),
    );
    e.serve([{ facts, cursor: 'hundred-1' }]);
    await pullE();
    assert.deepEqual(await refusedSince(before), { clock_skew: 100 });
    const lines = logged() - linesBefore;
    assert.ok(lines >= 1 && lines <= 10, `${lines} log lines for 100 refusals`);
    e.reset();
    await assertStillServing('hundred');
  });

  test(
    '2. an id squat is refused (id_conflict) whichever comes first; the genuine fact is stored and found by id',
    LIMIT,
    async () => {
      // Squat first: E takes the id H's fact will have (ids are derived from content, so it can be known in
      // advance) for its own content, signed by E as origin, before H has even written it.
      const genuineFirst = fact('test:honest/squatted-early');
      const earlyId = factId(factCid(content(genuineFirst.entity)));
      let before = await refusals();
      const early = record(content('test:hostile/squat-early'), {
        origin: e.entityUri,
        signer: e.key,
        id: earlyId,
      });
      e.serve([{ facts: [early], cursor: 'squat-1' }]);
      await pullE();
      assert.deepEqual(await refusedSince(before), { id_conflict: 1 });
      await notOnV(earlyId);
      await notOnV(early.cid);
      const written = await h.api<Fact>('POST', '/v1/facts', genuineFirst);
      assert.equal(written.body.id, earlyId, 'the id E squatted is the one H derives');
      await v.node.puller.pullNow(hOnV);
      const found = await v.api<Fact>('GET', `/v1/facts/${earlyId}`);
      assert.equal(found.status, 200, "H's genuine fact is stored although its id was squatted first");
      assert.equal(found.body.cid, written.body.cid);
      assert.equal(found.body.entity, genuineFirst.entity);
      assert.equal(found.body.origin_node_id, h.entityUri);
      expect(written.body, h.entityUri);

      // Squat after: V already holds H's fact; E's other content under its id changes nothing.
      const later = await h.api<Fact>('POST', '/v1/facts', fact('test:honest/squatted-late'));
      await v.node.puller.pullNow(hOnV);
      expect(later.body, h.entityUri);
      before = await refusals();
      const late = record(content('test:hostile/squat-late'), {
        origin: e.entityUri,
        signer: e.key,
        id: later.body.id,
      });
      e.serve([{ facts: [late], cursor: 'squat-2' }]);
      await pullE();
      assert.deepEqual(await refusedSince(before), { id_conflict: 1 });
      const still = await v.api<Fact>('GET', `/v1/facts/${later.body.id}`);
      assert.equal(still.body.cid, later.body.cid, 'the id still names the genuine content');
      assert.equal(still.body.hlc, later.body.hlc);
      assert.equal(still.body.received_from, h.entityUri);
      await notOnV(late.cid);
      assert.equal(v.node.puller.health(eOnV).degraded, 'facts_refused:id_conflict');
      e.reset();
      await assertStillServing('squat');
    },
  );

  test(
    '3. forged origins are refused (origin_unverified, origin_spoofed); a faithful relay of H is accepted',
    LIMIT,
    async () => {
      // Team facts: H's feed to V carries company and public only, so V can learn these only through E.
      const relayed = await h.api<Fact>('POST', '/v1/facts', fact('test:honest/relayed', 'team'));
      const tampered = await h.api<Fact>('POST', '/v1/facts', fact('test:honest/tampered', 'team'));
      assert.equal(relayed.status, 201);
      const genuine = (await h.node.store.getFact(relayed.body.id)) as FactRecord;
      const original = (await h.node.store.getFact(tampered.body.id)) as FactRecord;
      assert.ok(genuine.origin_sig && original.origin_sig, "H's facts carry H's signature");
      const hKeyId = original.origin_sig.kid;
      const fromH = (entity: string, options: Partial<Parameters<typeof record>[1]> = {}) =>
        record(content(entity), { origin: h.entityUri, signer: e.key, ...options });
      const unsigned = fromH('test:hostile/as-h-unsigned', { signer: null });
      const underHsKeyId = fromH('test:hostile/as-h-wrong-key', { kid: hKeyId });
      const otherHlc: FactRecord = { ...original, hlc: hlcAt(-5000) };
      const otherContent = { ...original, ...content('test:hostile/as-h-altered', 'team') };
      const altered: FactRecord = {
        ...otherContent,
        cid: factCid(otherContent),
        id: factId(factCid(otherContent)),
      };
      const asVictim = record(content('test:hostile/as-victim'), { origin: v.entityUri, signer: e.key });

      const before = await refusals();
      e.serve([
        {
          facts: [unsigned, underHsKeyId, otherHlc, altered, asVictim, genuine],
          cursor: 'forge-1',
        },
      ]);
      await pullE();
      assert.deepEqual(await refusedSince(before), { origin_unverified: 4, origin_spoofed: 1 });
      for (const forged of [unsigned, underHsKeyId, altered, asVictim]) {
        await notOnV(forged.id);
        await notOnV(forged.cid);
      }
      await notOnV(original.id); // the hlc-altered copy of it was refused; H never sent it to V
      const relay = await v.api<Fact>('GET', `/v1/facts/${genuine.id}`);
      assert.equal(relay.status, 200, 'a faithful relay of an approved origin is accepted');
      assert.equal(relay.body.origin_node_id, h.entityUri);
      assert.equal(relay.body.received_from, e.entityUri);
      assert.deepEqual(relay.body.origin_sig, genuine.origin_sig, "H's signature travels with it");
      expect(genuine, e.entityUri);

      // Signed with E's own key id under H's origin: V re-reads H's manifest for that key (rate-limited to
      // once a second per origin; until it could, the page waits for a retry) and then refuses it.
      const ownKid = fromH('test:hostile/as-h-own-kid');
      const pendingBefore = await refusals();
      e.serve([{ facts: [ownKid], cursor: 'forge-2' }]);
      await until(
        'the fact under E key id refused',
        async () => {
          await pullE();
          return (await v.node.store.getPullCursor(eOnV)) === 'forge-2';
        },
        { timeoutMs: 15_000, intervalMs: 250 },
      );
      assert.deepEqual(await refusedSince(pendingBefore), { origin_unverified: 1 });
      await notOnV(ownKid.id);
      e.reset();
      await assertStillServing('forge');
    },
  );

  test(
    '4a. an endless feed (more: true, a new cursor every page) gets the page cap per cycle (capped)',
    LIMIT,
    async () => {
      let n = 0;
      e.feed = () => ({ facts: [], cursor: `endless-${++n}`, more: true });
      const calls = e.feedCalls.length;
      const capped = await pulls('capped');
      await pullE();
      assert.equal(
        e.feedCalls.length - calls,
        MAX_PAGES,
        'TESSERA_FEDERATION_MAX_PAGES_PER_CYCLE pages, then stop',
      );
      assert.equal(await pulls('capped'), capped + 1);
      assert.equal(
        await v.node.store.getPullCursor(eOnV),
        `endless-${MAX_PAGES}`,
        'the next cycle resumes there',
      );
      e.reset();
      await assertStillServing('endless');
    },
  );

  test(
    '4b. a stalled cursor ends the cycle and flags E degraded (metrics, audit, peers list); a clean pull clears it',
    LIMIT,
    async () => {
      e.feed = ({ cursor }) => ({ facts: [], cursor: cursor ?? 'stalled', more: true });
      const calls = e.feedCalls.length;
      const degradedPulls = await pulls('degraded');
      await pullE();
      assert.equal(e.feedCalls.length - calls, 1, 'one page, not a loop');
      assert.equal(await pulls('degraded'), degradedPulls + 1);
      assert.equal(v.node.puller.health(eOnV).degraded, 'cursor_stalled');
      assert.equal(
        await counterValue(v.node.metrics, 'tessera_federation_peer_degraded', { peer: e.entityUri }),
        1,
      );
      const scraped = await request(new URL('/metrics', v.node.apiUrl)).then((r) => r.body.text());
      assert.ok(
        scraped.includes(`tessera_federation_peer_degraded{peer="${e.entityUri}"} 1`),
        'the gauge is on /metrics',
      );
      const listed = await v.api<PeerListing>('GET', '/v1/admin/peers');
      const view = listed.body.peers.find((p) => p.entity_uri === e.entityUri);
      assert.equal(view?.replication.degraded, 'cursor_stalled');
      assert.ok((view?.replication.failures ?? 0) >= 1, 'and backing off');
      const audited = await until('the degraded entry in the audit log', async () => {
        const { entries } = await v.node.store.listAudit({ event_type: 'federation_peer_degraded' }, 100);
        return entries.find(
          (entry) => entry.principal === e.entityUri && entry.detail.reason === 'cursor_stalled',
        );
      });
      assert.equal(audited.event_type, 'federation_peer_degraded');

      e.reset();
      await pullE();
      assert.equal(v.node.puller.health(eOnV).degraded, null, 'recovered');
      assert.equal(
        await counterValue(v.node.metrics, 'tessera_federation_peer_degraded', { peer: e.entityUri }),
        0,
      );
      await assertStillServing('stalled');
    },
  );

  test(
    '4c. a drip-fed answer is cut at the total page deadline (peer_call_failed); H replicates meanwhile',
    LIMIT,
    async () => {
      let dripping = false;
      e.feed = (_call, reply) => {
        reply.hijack();
        const response = reply.raw;
        response.writeHead(200, { 'content-type': 'application/json' });
        response.write('{"facts":[');
        dripping = true;
        // One byte every 50 ms: never idle long enough for an idle timeout, never done.
        const timer = setInterval(() => response.write(' '), 50);
        response.on('close', () => clearInterval(timer));
      };
      const failures = await pulls('failure');
      const cursor = await v.node.store.getPullCursor(eOnV);
      const started = Date.now();
      let held = true;
      const pulling = pullE().finally(() => {
        held = false;
      });
      await until('E to start dripping', () => dripping);
      // Another peer is not slowed by it: H's fact arrives while E's pull is still held open.
      const honest = await h.api<Fact>('POST', '/v1/facts', fact('test:honest/during-drip'));
      await v.node.puller.pullNow(hOnV);
      assert.equal((await v.api('GET', `/v1/facts/${honest.body.id}`)).status, 200);
      assert.ok(held, "H's pull finished while E's was still trickling");
      expect(honest.body, h.entityUri);
      await pulling;
      const took = Date.now() - started;
      assert.ok(took >= PAGE_TIMEOUT_MS - 100, `cut at the deadline, not before (${took} ms)`);
      assert.ok(took < PAGE_TIMEOUT_MS + 5000, `cut at the deadline, not an idle timeout (${took} ms)`);
      assert.equal(await pulls('failure'), failures + 1);
      assert.equal(pullFailures().at(-1), `${e.entityUri}: no complete answer within ${PAGE_TIMEOUT_MS} ms`);
      assert.equal(await v.node.store.getPullCursor(eOnV), cursor, 'nothing of the cut page was taken');
      e.reset();
      await assertStillServing('drip');
    },
  );

  test(
    '4d. what the peer says is still waiting is its lag in facts: capped at 10 000, nonsense ignored, 0 once drained; the last error stays',
    LIMIT,
    async () => {
      let n = 0;
      const endless = (remaining: unknown) => () => ({
        facts: [],
        cursor: `waiting-${++n}`,
        more: true,
        remaining,
      });
      e.feed = endless(42);
      await pullE();
      assert.equal(v.node.puller.health(eOnV).factsBehind, 42);
      e.feed = endless(1e12);
      await pullE();
      assert.equal(v.node.puller.health(eOnV).factsBehind, 10_000, 'a huge claim shows as the cap');
      for (const nonsense of [-1, 1.5, 'many', null]) {
        e.feed = endless(nonsense);
        await pullE();
        assert.equal(v.node.puller.health(eOnV).factsBehind, null, `remaining: ${JSON.stringify(nonsense)}`);
      }
      // A stalled cursor fails the cycle: the reason and when are kept, also after the next clean pull.
      e.feed = ({ cursor }) => ({ facts: [], cursor: cursor ?? 'stalled', more: true });
      await pullE();
      const failed = v.node.puller.health(eOnV);
      assert.equal(failed.lastError?.reason, 'cursor_stalled');
      assert.match(failed.lastError?.detail ?? '', /without advancing its cursor/);
      assert.ok(
        failed.nextPullAt !== null && failed.nextPullAt > (failed.lastError?.at ?? 0),
        'a pull is scheduled',
      );
      e.reset();
      await pullE();
      const recovered = v.node.puller.health(eOnV);
      assert.equal(recovered.factsBehind, 0, 'drained');
      assert.equal(recovered.failures, 0);
      assert.ok((recovered.lastSuccessAt ?? 0) >= (failed.lastError?.at ?? Infinity), 'a clean pull since');
      assert.deepEqual(recovered.lastError, failed.lastError, 'the last error is still shown');
      const listed = await v.api<{ peers: { entity_uri: string; replication: Record<string, unknown> }[] }>(
        'GET',
        '/v1/admin/peers',
      );
      const view = listed.body.peers.find((p) => p.entity_uri === e.entityUri)?.replication;
      assert.equal(view?.facts_behind, 0);
      assert.equal((view?.last_error as { reason?: string })?.reason, 'cursor_stalled');
      await assertStillServing('waiting');
    },
  );

  test(
    '5a. an attested of 70 KB or nested too deep is refused (validation_failed); the rest of the page is kept',
    LIMIT,
    async () => {
      const before = await refusals();
      const huge = record(content('test:hostile/huge-attested'), {
        origin: e.entityUri,
        signer: e.key,
        attested: { blob: 'x'.repeat(70_000) },
      });
      let nested: unknown = { leaf: true };
      for (let i = 0; i < 10; i++) nested = { inner: nested };
      const deep = record(content('test:hostile/deep-attested'), {
        origin: e.entityUri,
        signer: e.key,
        attested: nested,
      });
      const good = record(content('test:hostile/good-attested'), {
        origin: e.entityUri,
        signer: e.key,
        attested: { note: 'small is fine' },
      });
      e.serve([{ facts: [huge, deep, good], cursor: 'attested-1' }]);
      await pullE();
      assert.deepEqual(await refusedSince(before), { validation_failed: 2 });
      await notOnV(huge.id);
      await notOnV(deep.id);
      const kept = await v.api<Fact>('GET', `/v1/facts/${good.id}`);
      assert.equal(kept.status, 200);
      assert.deepEqual(kept.body.attested, { note: 'small is fine' });
      expect(good, e.entityUri);
      e.reset();
      await assertStillServing('attested');
    },
  );

  const pagesRefusedOf = (reason: string) =>
    counterValue(v.node.metrics, 'tessera_federation_pages_refused_total', { peer: e.entityUri, reason });

  /** Serves `body` as E's next page (raw bytes); pulls once; the page must be refused whole. */
  async function refusedPage(body: Buffer, why: RegExp, tag: string): Promise<void> {
    e.feed = (_call, reply) => reply.type('application/json').send(body);
    const before = await refusals();
    const degradedPulls = await pulls('degraded');
    const pagesRefused = pagesRefusedOf('bad_response');
    const backoff = v.node.puller.health(eOnV).failures;
    const cursor = await v.node.store.getPullCursor(eOnV);
    const calls = e.feedCalls.length;
    await pullE();
    assert.equal(await pulls('degraded'), degradedPulls + 1, 'the pull failed with E at fault');
    assert.equal(await pagesRefusedOf('bad_response'), (await pagesRefused) + 1, 'counted with its reason');
    assert.equal(v.node.puller.health(eOnV).degraded, 'page_refused:bad_response', 'E is degraded');
    assert.match(String(pullFailures().at(-1)), why);
    assert.deepEqual(await refusedSince(before), {}, 'no record of the page was even looked at');
    assert.equal(await v.node.store.getPullCursor(eOnV), cursor, 'the cursor did not move');
    assert.equal(v.node.puller.health(eOnV).failures, backoff + 1, 'E backs off further');
    await assertStillServing(tag);
    // Not a hot loop: in all the time V went on working, E was not asked again.
    assert.equal(e.feedCalls.length, calls + 1, 'the refused page was not retried at once');
  }

  /** A fact page as JSON text around one raw fact text. */
  const pageText = (factJson: string, cursor: string) =>
    `{"facts":[${factJson}],"cursor":"${cursor}","more":false}`;

  test(
    '5b. a 200k-deep page is refused whole without harm to V, and not retried in a loop',
    LIMIT,
    async () => {
      const good = record(content('test:hostile/in-deep-page'), { origin: e.entityUri, signer: e.key });
      const depth = 200_000;
      const factJson = JSON.stringify({ ...good, attested: { x: '@' } }).replace(
        '"@"',
        '['.repeat(depth) + ']'.repeat(depth),
      );
      await refusedPage(Buffer.from(pageText(factJson, 'deep-1')), /nested deeper than 32 levels/, 'deep');
      await notOnV(good.id);
    },
  );

  test('5c. invalid UTF-8 in a page is refused whole, never stored as U+FFFD', LIMIT, async () => {
    // Signed over the text a lax decoder would produce (U+FFFD for the bad byte), so only the UTF-8 check
    // stops it.
    const lax = { ...content('test:hostile/utf8'), value: { type: 'string' as const, v: 'caf\ufffd(' } };
    const signed = record(lax, { origin: e.entityUri, signer: e.key });
    const valid = Buffer.from(pageText(JSON.stringify(signed), 'utf8-1'));
    const at = valid.indexOf(Buffer.from('\ufffd'));
    // 0xC3 then '(': a lead byte whose next byte is not a continuation byte.
    const body = Buffer.concat([valid.subarray(0, at), Buffer.from([0xc3]), valid.subarray(at + 3)]);
    assert.deepEqual(JSON.parse(new TextDecoder().decode(body)).facts[0], signed, 'what a lax reader sees');
    await refusedPage(body, /is not valid UTF-8/, 'utf8');
    await notOnV(signed.id);
  });

  test(
    '5d. a duplicate "scope" key ({"scope":"local",…,"scope":"company"}) is refused whole, nothing stored',
    LIMIT,
    async () => {
      // Signed and addressed as the company fact a last-wins parser would read, so only strict parsing stops it.
      const smuggled = record(content('test:hostile/two-scopes', 'company'), {
        origin: e.entityUri,
        signer: e.key,
      });
      const factJson = JSON.stringify(smuggled).replace(
        '"scope":"company"',
        '"scope":"local","scope":"company"',
      );
      assert.match(factJson, /"scope":"local","scope":"company"/);
      assert.deepEqual(JSON.parse(factJson), smuggled, 'what a last-wins reader sees');
      await refusedPage(Buffer.from(pageText(factJson, 'dup-1')), /key "scope" appears twice/, 'duplicate');
      await notOnV(smuggled.id);
    },
  );

  test(
    'a peer that keeps failing is held to its backoff: its wake is ignored; a clean page clears it',
    LIMIT,
    async () => {
      assert.ok(v.node.puller.health(eOnV).failures >= 3, 'the refused pages above failed in a row');
      const listed = await v.api<PeerListing>('GET', '/v1/admin/peers');
      assert.equal(
        listed.body.peers.find((p) => p.entity_uri === e.entityUri)?.replication.failures,
        v.node.puller.health(eOnV).failures,
        'the peers list shows it',
      );
      e.reset();
      const calls = e.feedCalls.length;
      // E asks to be pulled now: accepted on the wire, but it cannot pull itself past its backoff.
      assert.equal(await e.wake({ entityUri: v.entityUri, federationUrl: v.node.federationUrl }), 202);
      // V goes on with its work (a pull of H: many turns of its event loop) and does not pull E for it ...
      await v.node.puller.pullNow(hOnV);
      assert.equal(e.feedCalls.length, calls, 'the wake started no pull of E');
      // ... and the one cycle this starts is the only one (a wake-started cycle would make it two).
      await pullE();
      assert.equal(e.feedCalls.length - calls, 1);
      const { degraded, failures, factsBehind } = v.node.puller.health(eOnV);
      assert.deepEqual({ degraded, failures, factsBehind }, { degraded: null, failures: 0, factsBehind: 0 });
      await assertStillServing('recovered');
    },
  );
  test(
    'a peer whose clock runs 90 s ahead: its skew is on the metrics, the peers list and the status page',
    LIMIT,
    async () => {
      e.clockAheadMs = 90_000;
      await pullE();
      const skew = await counterValue(v.node.metrics, 'tessera_federation_peer_clock_skew_seconds', {
        peer: e.entityUri,
      });
      assert.ok(skew !== undefined && Math.abs(skew - 90) < 2, `the gauge says ${skew}`);
      const listed = await v.api<{
        peers: { entity_uri: string; clock: { skew_seconds: number; source: string } }[];
      }>('GET', '/v1/admin/peers');
      const clock = listed.body.peers.find((p) => p.entity_uri === e.entityUri)?.clock;
      assert.equal(clock?.source, 'http_date');
      assert.ok(Math.abs((clock?.skew_seconds ?? 0) - 90) < 2, `peers list: ${JSON.stringify(clock)}`);
      const status = await v.api<{ peers: { entity_uri: string; clock: { level: string } | null }[] }>(
        'GET',
        '/status.json',
      );
      assert.equal(status.status, 200);
      assert.equal(
        status.body.peers.find((p) => p.entity_uri === e.entityUri)?.clock?.level,
        'critical',
        'beyond TESSERA_FEDERATION_MAX_CLOCK_SKEW_MS (60 s): its facts would be refused',
      );
      e.reset();
      await pullE();
      assert.ok(
        Math.abs(
          (await counterValue(v.node.metrics, 'tessera_federation_peer_clock_skew_seconds', {
            peer: e.entityUri,
          })) ?? 99,
        ) < 2,
        'an honest Date brings it back',
      );
    },
  );
  test(
    "a peer whose certificate is not valid yet: the pull's last error says so, with the peer's measured clock skew",
    LIMIT,
    async () => {
      e.clockAheadMs = 120_000;
      await pullE();
      // Valid from one minute ahead: E's own loader allows that (5 min of skew), V's handshake does not.
      await e.rotate({ notBefore: new Date(Date.now() + 60_000) });
      await pullE();
      const { failures, lastError } = v.node.puller.health(eOnV);
      assert.ok(failures >= 1);
      assert.equal(lastError?.reason, 'peer_call_failed:cert_not_yet_valid');
      assert.match(
        lastError?.detail ?? '',
        /the peer's clock was last measured 1[12]\d s ahead of this node's$/,
      );
      await e.rotate({});
      e.reset();
      await pullE();
      assert.equal(v.node.puller.health(eOnV).failures, 0, 'a valid certificate again: a clean pull');
    },
  );
});
