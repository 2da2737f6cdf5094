// The federation feed: scope and origin filters, insertion order, paging with `more`, cursors that skip
// what a peer may not receive, and cursor validation.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { FactRecord, FederationQuery } from '../../../src/store/ports/facts.ts';
import type { Store } from '../../../src/store/store.ts';
import { fact, PEER_A, PEER_B, SELF } from './records.ts';
import type { OpenStore } from './types.ts';

export function feedContract(open: OpenStore): void {
  const ids = (facts: FactRecord[]) => facts.map((f) => f.id);

  async function seed(store: Store): Promise<FactRecord[]> {
    const records = [
      fact({ scope: 'company' }),
      fact({ scope: 'local' }),
      fact({ scope: 'public', origin_node_id: PEER_A, received_from: PEER_A }),
      fact({ scope: 'team' }),
      fact({ scope: 'company', origin_node_id: PEER_B, received_from: PEER_A }),
      fact({ scope: 'public' }),
      fact({ scope: 'company', origin_node_id: PEER_A, received_from: PEER_A }),
      fact({ scope: 'company' }),
    ];
    for (const record of records) await store.insertFact(record);
    return records;
  }

  test('a fact without an origin signature is never served in the feed (a receiver could not verify it)', async () => {
    const t = await open();
    try {
      const signed = fact({ scope: 'company' });
      const unsigned = fact({ scope: 'company', origin_sig: null });
      const later = fact({ scope: 'company' });
      for (const record of [signed, unsigned, later]) await t.store.insertFact(record);
      const { facts } = await walk(t.store, { limit: 1, scopes: ['company'] });
      assert.deepEqual(ids(facts), [signed.id, later.id]);
    } finally {
      await t.cleanup();
    }
  });

  /** Every page from `after` on; checks that the cursor only moves forward and `more` ends the walk. */
  async function walk(
    store: Store,
    query: FederationQuery,
  ): Promise<{ facts: FactRecord[]; pages: number; cursor: string }> {
    const facts: FactRecord[] = [];
    let cursor = query.after;
    for (let pages = 1; ; pages++) {
      const page = await store.federationPage({
        ...query,
        ...(cursor === undefined ? {} : { after: cursor }),
      });
      assert.ok(page.facts.length <= query.limit);
      if (cursor !== undefined)
        assert.ok(Number(page.cursor) >= Number(cursor), 'the cursor never moves back');
      facts.push(...page.facts);
      cursor = page.cursor;
      if (!page.more) return { facts, pages, cursor };
      assert.equal(page.facts.length, query.limit, 'a page with more after it is full');
      assert.ok(pages < 100, 'the walk ends');
    }
  }

  test('the feed holds only the asked scopes, in insertion order, from the beginning', async () => {
    const t = await open();
    try {
      const r = await seed(t.store);
      const page = await t.store.federationPage({ limit: 100, scopes: ['company', 'public'] });
      assert.deepEqual(ids(page.facts), ids([r[0]!, r[2]!, r[4]!, r[5]!, r[6]!, r[7]!]));
      assert.equal(page.more, false);
      assert.deepEqual(page.facts[2], r[4], 'records come back whole');
      const same = await t.store.federationPage({ after: '0', limit: 100, scopes: ['public', 'company'] });
      assert.deepEqual(ids(same.facts), ids(page.facts), "'0' is the beginning, scope order is irrelevant");
      const team = await t.store.federationPage({ limit: 100, scopes: ['team'] });
      assert.deepEqual(ids(team.facts), [r[3]!.id]);
      const none = await t.store.federationPage({ limit: 100, scopes: [] });
      assert.deepEqual(none.facts, []);
      assert.equal(none.more, false);
    } finally {
      await t.cleanup();
    }
  });

  test('remaining counts what the same query still returns after each page; 0 on the last', async () => {
    const t = await open();
    try {
      await seed(t.store);
      // company + public, not PEER_A's own: r0, r4, r5, r7 (four facts), one per page.
      const query: FederationQuery = { limit: 1, scopes: ['company', 'public'], excludeOrigin: PEER_A };
      const seen: [boolean, number][] = [];
      let after: string | undefined;
      for (;;) {
        const page = await t.store.federationPage({ ...query, ...(after === undefined ? {} : { after }) });
        seen.push([page.more, page.remaining]);
        if (!page.more) break;
        after = page.cursor;
      }
      assert.deepEqual(seen, [
        [true, 3],
        [true, 2],
        [true, 1],
        [false, 0],
      ]);
    } finally {
      await t.cleanup();
    }
  });

  test('originNodeId keeps only facts that originated there; excludeOrigin drops the asking peer’s own', async () => {
    const t = await open();
    try {
      const r = await seed(t.store);
      const scopes: FederationQuery['scopes'] = ['company', 'public', 'team'];
      const own = await t.store.federationPage({ limit: 100, scopes, originNodeId: SELF });
      assert.deepEqual(ids(own.facts), ids([r[0]!, r[3]!, r[5]!, r[7]!]));
      const notA = await t.store.federationPage({ limit: 100, scopes, excludeOrigin: PEER_A });
      assert.deepEqual(ids(notA.facts), ids([r[0]!, r[3]!, r[4]!, r[5]!, r[7]!]));
      const ownNotA = await t.store.federationPage({
        limit: 100,
        scopes,
        originNodeId: SELF,
        excludeOrigin: PEER_A,
      });
      assert.deepEqual(ids(ownNotA.facts), ids(own.facts));
      const contradictory = await t.store.federationPage({
        limit: 100,
        scopes,
        originNodeId: PEER_A,
        excludeOrigin: PEER_A,
      });
      assert.deepEqual(contradictory.facts, []);
    } finally {
      await t.cleanup();
    }
  });

  test('paging with a small limit visits every matching fact once; more is false on the last page', async () => {
    const t = await open();
    try {
      const r = await seed(t.store);
      const query: FederationQuery = { limit: 2, scopes: ['company', 'public'], excludeOrigin: PEER_B };
      const expected = ids([r[0]!, r[2]!, r[5]!, r[6]!, r[7]!]);
      const walked = await walk(t.store, query);
      assert.deepEqual(ids(walked.facts), expected);
      assert.equal(walked.pages, 3);

      // Exactly `limit` matches left: the page is full and still says there is no more.
      const first = await t.store.federationPage({ ...query, limit: 3 });
      assert.equal(first.more, true);
      const last = await t.store.federationPage({ ...query, limit: 2, after: first.cursor });
      assert.deepEqual(ids(last.facts), expected.slice(3));
      assert.equal(last.more, false);
    } finally {
      await t.cleanup();
    }
  });

  test('the cursor moves past a long run of facts the peer may not receive, so they are scanned once', async () => {
    const t = await open();
    try {
      await seed(t.store);
      const query: FederationQuery = { limit: 10, scopes: ['company', 'public'] };
      const caughtUp = await walk(t.store, query);
      await t.store.tx(async (tx) => {
        for (let i = 0; i < 300; i++) await tx.insertFact(fact({ scope: 'local' }));
      });
      const skipped = await t.store.federationPage({ ...query, after: caughtUp.cursor });
      assert.deepEqual(skipped.facts, []);
      assert.equal(skipped.more, false);
      assert.equal(Number(skipped.cursor), Number(caughtUp.cursor) + 300, 'the cursor is past the local run');
      const again = await t.store.federationPage({ ...query, after: skipped.cursor });
      assert.equal(again.cursor, skipped.cursor, 'nothing new: the same cursor');

      // A full page stops right before the next match, so the non-matching run before it is not rescanned.
      const wanted = [fact({ scope: 'public' }), fact({ scope: 'company' })];
      await t.store.tx(async (tx) => {
        await tx.insertFact(wanted[0]!);
        for (let i = 0; i < 50; i++) await tx.insertFact(fact({ scope: 'local' }));
        await tx.insertFact(wanted[1]!);
      });
      const one = await t.store.federationPage({ ...query, limit: 1, after: skipped.cursor });
      assert.deepEqual(ids(one.facts), [wanted[0]!.id]);
      assert.equal(one.more, true);
      assert.equal(Number(one.cursor), Number(skipped.cursor) + 51, 'just before the next match');
      const two = await t.store.federationPage({ ...query, limit: 1, after: one.cursor });
      assert.deepEqual(ids(two.facts), [wanted[1]!.id]);
      assert.equal(two.more, false);
    } finally {
      await t.cleanup();
    }
  });

  test('an invalid federation cursor or limit is a StoreInputError invalid_cursor / invalid_limit', async () => {
    const t = await open();
    try {
      await seed(t.store);
      for (const after of ['', 'abc', '-1', '1.5', '01', ' 1', '1e3', '99999999999999999999'])
        await assert.rejects(t.store.federationPage({ after, limit: 10, scopes: ['company'] }), {
          name: 'StoreInputError',
          code: 'invalid_cursor',
        });
      await assert.rejects(t.store.federationPage({ limit: 0, scopes: ['company'] }), {
        name: 'StoreInputError',
        code: 'invalid_limit',
      });
      // A cursor ahead of this store (e.g. from before a restore) returns nothing and is kept.
      const ahead = await t.store.federationPage({ after: '1000000', limit: 10, scopes: ['company'] });
      assert.deepEqual(ahead, { facts: [], cursor: '1000000', more: false, remaining: 0 });
    } finally {
      await t.cleanup();
    }
  });
}
