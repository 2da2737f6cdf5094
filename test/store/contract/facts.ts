// Facts: insert and lookup by id or CID, idempotence by CID and by id, list filters, keyset paging that
// stays exact while facts are inserted between pages, and cursor validation.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { StoreInputError } from '../../../src/store/errors.ts';
import type { FactRecord } from '../../../src/store/ports/facts.ts';
import type { Store } from '../../../src/store/store.ts';
import { fact, PEER_A } from './records.ts';
import type { OpenStore } from './types.ts';

export function factContract(open: OpenStore): void {
  test('a fact is stored unchanged and found by its id and by its sha256: CID', async () => {
    const t = await open();
    try {
      const records: FactRecord[] = [
        fact({ value: { type: 'string', v: 'héllo "quoted" ✓' }, confidence: 0.1 + 0.2 }),
        fact({ value: { type: 'text', v: 'line\nbreak' }, scope: 'local' }),
        fact({ value: { type: 'number', v: -1.5e-300 } }),
        fact({ value: { type: 'boolean', v: false }, scope: 'team' }),
        fact({
          value: { type: 'datetime', v: '2025-11-23T10:00:00.123456+05:30' },
          valid_until: '2026-01-01T00:00:00Z',
        }),
        fact({
          value: { type: 'ref', v: 'urn:x:1' },
          scope: 'public',
          received_from: PEER_A,
          origin_node_id: PEER_A,
        }),
        fact({ value: { type: 'null', v: null }, attested: { alg: 'EdDSA', sig: 'c2ln', chain: [1, 2] } }),
      ];
      for (const record of records) {
        const result = await t.store.insertFact(record);
        assert.equal(result.inserted, true);
        assert.deepEqual(result.record, record);
      }
      for (const record of records) {
        assert.deepEqual(await t.store.getFact(record.id), record, `by id ${record.id}`);
        assert.deepEqual(await t.store.getFact(record.cid), record, `by cid ${record.cid}`);
      }
      assert.equal(await t.store.getFact('no-such-id'), null);
      assert.equal(await t.store.getFact(`sha256:${'0'.repeat(64)}`), null);
    } finally {
      await t.cleanup();
    }
  });

  test('maxHlc is null on an empty store, then the largest HLC stored whatever the insertion order', async () => {
    const t = await open();
    try {
      assert.equal(await t.store.maxHlc(), null);
      await t.store.insertFact(fact({ hlc: '001763900000500-000003' }));
      await t.store.insertFact(
        fact({ hlc: '001763900000900-000000', received_from: PEER_A, origin_node_id: PEER_A }),
      );
      await t.store.insertFact(fact({ hlc: '001763900000500-000007' }));
      assert.equal(await t.store.maxHlc(), '001763900000900-000000');
      const again = await t.reopen();
      assert.equal(await again.maxHlc(), '001763900000900-000000', 'kept across a restart');
    } finally {
      await t.cleanup();
    }
  });

  test('the same CID twice stores one record: the second insert returns the stored one and changes nothing', async () => {
    const t = await open();
    try {
      const first = fact({ entity: 'test:dup', timestamp: '2025-01-01T00:00:00Z' });
      const again = { ...first, id: 'another-id', timestamp: '2025-06-01T00:00:00Z', received_from: PEER_A };
      assert.equal((await t.store.insertFact(first)).inserted, true);
      const second = await t.store.insertFact(again);
      assert.equal(second.inserted, false);
      assert.deepEqual(second.record, first, 'the stored record, not the one offered');
      assert.equal(await t.store.countFacts(), 1);
      assert.equal(await t.store.getFact('another-id'), null);
    } finally {
      await t.cleanup();
    }
  });

  test('an id already stored with other content is refused with id_conflict; the stored fact stays', async () => {
    const t = await open();
    try {
      const first = fact({ id: 'same-id' });
      await t.store.insertFact(first);
      const other = fact({ id: 'same-id', entity: 'test:other' });
      assert.notEqual(other.cid, first.cid);
      await assert.rejects(t.store.insertFact(other), { name: 'StoreInputError', code: 'id_conflict' });
      assert.deepEqual(await t.store.getFact('same-id'), first);
      assert.equal(await t.store.getFact(other.cid), null);
      assert.equal(await t.store.countFacts(), 1);
    } finally {
      await t.cleanup();
    }
  });

  test('setOriginSignature replaces the stored signature; factsToSign lists own facts not signed by a key', async () => {
    const t = await open();
    try {
      const unsigned = fact({ origin_sig: null });
      const oldKey = fact({ origin_sig: { kid: 'old', sig: 'B'.repeat(86) } });
      const current = fact({ origin_sig: { kid: 'new', sig: 'C'.repeat(86) } });
      const foreign = fact({ origin_node_id: PEER_A, received_from: PEER_A, origin_sig: null });
      for (const record of [unsigned, oldKey, current, foreign]) await t.store.insertFact(record);
      const toSign = await t.store.factsToSign(unsigned.origin_node_id, 'new', 10);
      assert.deepEqual(
        toSign.map((f) => f.cid),
        [unsigned.cid, oldKey.cid],
        'oldest first, own facts only',
      );
      assert.equal((await t.store.factsToSign(unsigned.origin_node_id, 'new', 1)).length, 1, 'limit');
      const signature = { kid: 'new', sig: 'D'.repeat(86) };
      assert.equal(await t.store.setOriginSignature(unsigned.cid, signature), true);
      assert.deepEqual((await t.store.getFact(unsigned.cid))?.origin_sig, signature);
      assert.equal(await t.store.setOriginSignature(`sha256:${'1'.repeat(64)}`, signature), false);
      assert.deepEqual(
        (await t.store.factsToSign(unsigned.origin_node_id, 'new', 10)).map((f) => f.cid),
        [oldKey.cid],
      );
    } finally {
      await t.cleanup();
    }
  });

  test('a record the schema cannot hold (unknown scope) is refused with invalid_record', async () => {
    const t = await open();
    try {
      const bad = { ...fact(), scope: 'galaxy' } as unknown as FactRecord;
      await assert.rejects(t.store.insertFact(bad), { name: 'StoreInputError', code: 'invalid_record' });
      assert.equal(await t.store.countFacts(), 0);
    } finally {
      await t.cleanup();
    }
  });

  async function seedForFilters(store: Store): Promise<FactRecord[]> {
    const records = [
      fact({ entity: 'e:1', relation: 'r:a', source: 's:x', scope: 'company' }),
      fact({ entity: 'e:1', relation: 'r:b', source: 's:x', scope: 'local' }),
      fact({ entity: 'e:2', relation: 'r:a', source: 's:y', scope: 'company' }),
      fact({ entity: 'e:2', relation: 'r:a', source: 's:x', scope: 'public' }),
      fact({ entity: 'e:3', relation: 'r:b', source: 's:y', scope: 'team' }),
      fact({ entity: 'e:1', relation: 'r:a', source: 's:y', scope: 'company' }),
    ];
    for (const record of records) await store.insertFact(record);
    return records;
  }

  test('list filters by entity, relation, source and scope (alone and together), oldest first, with total', async () => {
    const t = await open();
    try {
      const r = await seedForFilters(t.store);
      const ids = (facts: FactRecord[]) => facts.map((f) => f.id);
      const cases: [Parameters<Store['listFacts']>[0], FactRecord[]][] = [
        [{}, r],
        [{ entity: 'e:1' }, [r[0]!, r[1]!, r[5]!]],
        [{ relation: 'r:b' }, [r[1]!, r[4]!]],
        [{ source: 's:y' }, [r[2]!, r[4]!, r[5]!]],
        [{ scope: 'company' }, [r[0]!, r[2]!, r[5]!]],
        [{ entity: 'e:1', relation: 'r:a' }, [r[0]!, r[5]!]],
        [{ entity: 'e:2', relation: 'r:a', source: 's:x', scope: 'public' }, [r[3]!]],
        [{ entity: 'e:1', scope: 'team' }, []],
        [{ entity: 'e:404' }, []],
      ];
      for (const [filter, expected] of cases) {
        const page = await t.store.listFacts(filter, 100);
        assert.deepEqual(ids(page.facts), ids(expected), JSON.stringify(filter));
        assert.equal(page.total, expected.length, `total of ${JSON.stringify(filter)}`);
        assert.equal(page.cursor, null, 'a single page has no next cursor');
        assert.equal(await t.store.countFacts(filter), expected.length);
      }
      const limited = await t.store.listFacts({ entity: 'e:1' }, 2);
      assert.deepEqual(ids(limited.facts), [r[0]!.id, r[1]!.id]);
      assert.equal(limited.total, 3, 'total counts every page');
      assert.equal(typeof limited.cursor, 'string');
    } finally {
      await t.cleanup();
    }
  });

  test('cursor paging visits each matching fact exactly once while facts are inserted between pages', async () => {
    const t = await open();
    try {
      const expected: string[] = [];
      const add = async (matching: boolean) => {
        const record = fact({ entity: matching ? 'e:paged' : 'e:noise' });
        await t.store.insertFact(record);
        if (matching) expected.push(record.id);
      };
      for (let i = 0; i < 25; i++) await add(i % 5 !== 0);
      const seen: string[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const page = await t.store.listFacts({ entity: 'e:paged' }, 7, cursor);
        seen.push(...page.facts.map((f) => f.id));
        assert.ok(page.facts.length <= 7);
        assert.equal(page.total, expected.length, 'total is the count at the time of the page');
        cursor = page.cursor ?? undefined;
        // New facts arrive between pages, matching and not; an old one is re-asserted (no new row).
        if (pages < 4 && cursor !== undefined) {
          await add(true);
          await add(false);
          await t.store.insertFact({ ...(await t.store.getFact(expected[0]!))!, id: 'dup' });
        }
        pages++;
      } while (cursor !== undefined);
      assert.deepEqual(seen, expected, 'every matching fact, once, in insertion order');
      assert.equal(new Set(seen).size, seen.length);
    } finally {
      await t.cleanup();
    }
  });

  test('recentFacts: newest first, filtered, paged by its cursor to the oldest (then null)', async () => {
    const t = await open();
    try {
      const records = [
        fact({ scope: 'company' }),
        fact({ scope: 'team' }),
        fact({ scope: 'company' }),
        fact({ scope: 'company' }),
        fact({ scope: 'public' }),
      ];
      for (const record of records) await t.store.insertFact(record);
      const all = await t.store.recentFacts({}, 10);
      assert.deepEqual(
        all.facts.map((f) => f.id),
        [...records].reverse().map((f) => f.id),
      );
      assert.equal(all.cursor, null);
      const company = records.filter((f) => f.scope === 'company').reverse();
      const first = await t.store.recentFacts({ scope: 'company' }, 2);
      assert.deepEqual(
        first.facts.map((f) => f.id),
        company.slice(0, 2).map((f) => f.id),
      );
      assert.ok(first.cursor);
      // A fact stored between pages is newer than the scan: it is not read by the pages that follow.
      await t.store.insertFact(fact({ scope: 'company' }));
      const rest = await t.store.recentFacts({ scope: 'company' }, 2, first.cursor);
      assert.deepEqual(
        rest.facts.map((f) => f.id),
        company.slice(2).map((f) => f.id),
      );
      assert.equal(rest.cursor, null);
      await assert.rejects(t.store.recentFacts({}, 2, 'not a cursor!'), { code: 'invalid_cursor' });
      await assert.rejects(t.store.recentFacts({}, 0), { code: 'invalid_limit' });
    } finally {
      await t.cleanup();
    }
  });

  test('an invalid list cursor or limit is a StoreInputError the HTTP layer can answer 422 with', async () => {
    const t = await open();
    try {
      await seedForFilters(t.store);
      const page = await t.store.listFacts({}, 2);
      assert.ok(page.cursor);
      const tampered = Buffer.from('-3').toString('base64url');
      for (const cursor of [
        '',
        'not a cursor!',
        '%%%',
        tampered,
        Buffer.from('12abc').toString('base64url'),
        `${page.cursor}=`,
      ]) {
        await assert.rejects(t.store.listFacts({}, 2, cursor), (error: unknown) => {
          assert.ok(error instanceof StoreInputError, `cursor ${JSON.stringify(cursor)}`);
          assert.equal(error.code, 'invalid_cursor');
          return true;
        });
      }
      for (const limit of [0, -1, 1.5, Number.NaN])
        await assert.rejects(t.store.listFacts({}, limit), {
          name: 'StoreInputError',
          code: 'invalid_limit',
        });
      // The good cursor still works after the bad ones.
      assert.equal((await t.store.listFacts({}, 2, page.cursor)).facts.length, 2);
    } finally {
      await t.cleanup();
    }
  });
}
