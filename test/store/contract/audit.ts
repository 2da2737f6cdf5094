// The audit log: appends chain seq 1..n with prev_hash, a builder that breaks the chain is refused with
// nothing written, concurrent appends stay gapless, appends join transactions, filters and keyset paging,
// range reads, and durability across reopen.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import type { AuditEntry } from '../../../src/store/ports/audit.ts';
import type { Store } from '../../../src/store/store.ts';
import type { OpenStore } from './types.ts';

export function auditContract(open: OpenStore): void {
  const GENESIS = '0'.repeat(64);

  interface Event {
    event_type?: string;
    principal?: string | null;
    detail?: Record<string, unknown>;
    ts?: string;
  }

  /** A builder like the node's: next seq, previous hash (GENESIS first), hash over both and the content. */
  function link(event: Event = {}): (last: { seq: number; hash: string } | null) => AuditEntry {
    return (last) => {
      const body = {
        seq: (last?.seq ?? 0) + 1,
        ts: event.ts ?? '2025-11-23T10:00:00.000Z',
        event_type: event.event_type ?? 'test.event',
        principal: event.principal === undefined ? 'spiffe://example.org/client/1' : event.principal,
        detail: event.detail ?? {},
        prev_hash: last?.hash ?? GENESIS,
      };
      return { ...body, hash: createHash('sha256').update(JSON.stringify(body)).digest('hex') };
    };
  }

  /** Every stored entry, checking the chain on the way. */
  async function chain(store: Store): Promise<AuditEntry[]> {
    const entries = await store.auditRange(0, 1_000_000);
    entries.forEach((entry, i) => {
      assert.equal(entry.seq, i + 1, `seq ${i + 1}`);
      assert.equal(entry.prev_hash, i === 0 ? GENESIS : entries[i - 1]!.hash, `prev_hash of ${i + 1}`);
    });
    return entries;
  }

  test('appends chain seq 1..n with prev_hash; entries are stored as built and kept across reopen', async () => {
    const t = await open();
    try {
      const seen: ({ seq: number; hash: string } | null)[] = [];
      const built: AuditEntry[] = [];
      for (let i = 0; i < 5; i++) {
        const build = link({
          event_type: `e${i}`,
          principal: i === 2 ? null : `p${i}`,
          detail: { i, nested: { list: [1, 'two', null], text: 'héllo "q"' } },
        });
        const stored = await t.store.appendAudit((last) => {
          seen.push(last);
          const entry = build(last);
          built.push(entry);
          return entry;
        });
        assert.deepEqual(stored, built[i], 'the stored entry is returned as built');
      }
      assert.deepEqual(seen, [null, ...built.slice(0, 4).map((e) => ({ seq: e.seq, hash: e.hash }))]);
      assert.deepEqual(await chain(t.store), built);

      const store = await t.reopen();
      assert.deepEqual(await chain(store), built);
      const sixth = await store.appendAudit(link());
      assert.equal(sixth.seq, 6);
      assert.equal(sixth.prev_hash, built[4]!.hash);
    } finally {
      await t.cleanup();
    }
  });

  test('a builder that breaks the chain is refused with invalid_record and nothing is written', async () => {
    const t = await open();
    try {
      const refused = async (build: Parameters<Store['appendAudit']>[0], reason: RegExp): Promise<void> =>
        assert.rejects(t.store.appendAudit(build), (error: unknown) => {
          assert.equal((error as Error).name, 'StoreInputError');
          assert.equal((error as { code?: string }).code, 'invalid_record');
          assert.match((error as Error).message, reason);
          return true;
        });

      await refused((last) => ({ ...link()(last), seq: 2 }), /seq 2 does not follow 0/);
      assert.deepEqual(await t.store.auditRange(0, 10), [], 'an empty log stays empty');
      await t.store.appendAudit(link());
      await t.store.appendAudit(link());

      await refused((last) => ({ ...link()(last), seq: 4 }), /seq 4 does not follow 2/);
      await refused((last) => ({ ...link()(last), seq: 2 }), /seq 2 does not follow 2/);
      await refused((last) => ({ ...link()(last), prev_hash: 'f'.repeat(64) }), /prev_hash .* entry 2/);
      await refused((last) => ({ ...link()(last), hash: '' }), /hash must be a non-empty string/);
      await refused(
        (last) => ({ ...link()(last), detail: [1, 2] as unknown as Record<string, unknown> }),
        /detail must be a JSON object/,
      );
      await refused(
        (last) => ({ ...link()(last), detail: { n: 1n } as Record<string, unknown> }),
        /detail is not JSON/,
      );
      const boom = new Error('builder failed');
      await assert.rejects(
        t.store.appendAudit(() => {
          throw boom;
        }),
        (error: unknown) => error === boom,
      );

      assert.equal((await chain(t.store)).length, 2, 'still exactly the two good entries');
      assert.equal((await t.store.appendAudit(link())).seq, 3, 'the next good append continues the chain');
    } finally {
      await t.cleanup();
    }
  });

  test('50 concurrent appends produce a gapless chain 1..50', async () => {
    const t = await open();
    try {
      const results = await Promise.all(
        Array.from({ length: 50 }, (_, i) => t.store.appendAudit(link({ detail: { i } }))),
      );
      assert.deepEqual(
        results.map((entry) => entry.seq).sort((a, b) => a - b),
        Array.from({ length: 50 }, (_, i) => i + 1),
      );
      const entries = await chain(t.store);
      assert.equal(entries.length, 50);
      assert.deepEqual(
        entries.map((entry) => entry.detail.i).sort((a, b) => Number(a) - Number(b)),
        Array.from({ length: 50 }, (_, i) => i),
        'every call stored exactly once',
      );
    } finally {
      await t.cleanup();
    }
  });

  test('appends join the caller transaction: rolled back with it, committed with it, chained inside it', async () => {
    const t = await open();
    try {
      await t.store.appendAudit(link({ event_type: 'before' }));
      const boom = new Error('abort');
      await assert.rejects(
        t.store.tx(async (tx) => {
          await tx.setMeta('k', 'v');
          assert.equal((await tx.appendAudit(link({ event_type: 'inside' }))).seq, 2);
          // The store itself (not the handle) joins the transaction too, and sees the entry above.
          assert.equal((await t.store.appendAudit(link({ event_type: 'inside' }))).seq, 3);
          throw boom;
        }),
        (error: unknown) => error === boom,
      );
      assert.deepEqual(
        (await chain(t.store)).map((e) => e.event_type),
        ['before'],
      );
      assert.equal(await t.store.getMeta('k'), null);

      await t.store.tx(async (tx) => {
        await tx.appendAudit(link({ event_type: 'a' }));
        // A refused entry inside a tx fails only that call: the tx may catch it and go on.
        await assert.rejects(
          tx.appendAudit((last) => ({ ...link()(last), seq: 99 })),
          { code: 'invalid_record' },
        );
        await tx.appendAudit(link({ event_type: 'b' }));
      });
      assert.deepEqual(
        (await chain(t.store)).map((e) => e.event_type),
        ['before', 'a', 'b'],
      );
    } finally {
      await t.cleanup();
    }
  });

  /** Seven entries over three types, two principals (and none), one second apart. */
  async function seed(store: Store): Promise<AuditEntry[]> {
    const events: Event[] = [
      { event_type: 'fact.write', principal: 'alice' },
      { event_type: 'key.create', principal: 'admin' },
      { event_type: 'fact.write', principal: 'bob' },
      { event_type: 'fact.write', principal: 'alice' },
      { event_type: 'peer.approve', principal: null },
      { event_type: 'fact.write', principal: 'alice' },
      { event_type: 'key.create', principal: 'alice' },
    ];
    const entries: AuditEntry[] = [];
    for (const [i, event] of events.entries())
      entries.push(await store.appendAudit(link({ ...event, ts: `2025-11-23T10:00:0${i}.000Z` })));
    return entries;
  }

  test('listAudit filters by event_type, principal and since ≤ ts < until, oldest first', async () => {
    const t = await open();
    try {
      const all = await seed(t.store);
      const seqs = async (filter: Parameters<Store['listAudit']>[0]): Promise<number[]> => {
        const page = await t.store.listAudit(filter, 100);
        assert.equal(page.cursor, null, 'one page holds them all');
        assert.equal(page.total, page.entries.length, 'total counts the filter, here one page');
        return page.entries.map((e) => e.seq);
      };
      assert.deepEqual((await t.store.listAudit({}, 100)).entries, all);
      assert.deepEqual(await seqs({ event_type: 'fact.write' }), [1, 3, 4, 6]);
      assert.deepEqual(await seqs({ principal: 'alice' }), [1, 4, 6, 7]);
      assert.deepEqual(await seqs({ event_type: 'fact.write', principal: 'alice' }), [1, 4, 6]);
      assert.deepEqual(
        await seqs({ since: '2025-11-23T10:00:02.000Z' }),
        [3, 4, 5, 6, 7],
        'since is inclusive',
      );
      assert.deepEqual(await seqs({ until: '2025-11-23T10:00:02.000Z' }), [1, 2], 'until is exclusive');
      assert.deepEqual(
        await seqs({
          since: '2025-11-23T10:00:01.000Z',
          until: '2025-11-23T10:00:06.000Z',
          principal: 'alice',
        }),
        [4, 6],
      );
      assert.deepEqual(await seqs({ event_type: 'no.such' }), []);
      assert.deepEqual(
        await seqs({ since: '2025-11-23T10:00:03.000Z', until: '2025-11-23T10:00:03.000Z' }),
        [],
      );
    } finally {
      await t.cleanup();
    }
  });

  test('listAudit pages with a keyset cursor that stays exact while entries are appended', async () => {
    const t = await open();
    try {
      await seed(t.store);
      const first = await t.store.listAudit({ event_type: 'fact.write' }, 2);
      assert.deepEqual(
        first.entries.map((e) => e.seq),
        [1, 3],
      );
      assert.equal(first.total, 4, 'total: every matching entry, not the page');
      assert.ok(first.cursor);
      await t.store.appendAudit(link({ event_type: 'fact.write', ts: '2025-11-23T10:00:09.000Z' }));
      const second = await t.store.listAudit({ event_type: 'fact.write' }, 2, first.cursor);
      assert.deepEqual(
        second.entries.map((e) => e.seq),
        [4, 6],
      );
      assert.ok(second.cursor, 'more: the entry appended meanwhile');
      assert.equal(second.total, 5);
      const third = await t.store.listAudit({ event_type: 'fact.write' }, 2, second.cursor);
      assert.deepEqual(
        third.entries.map((e) => e.seq),
        [8],
      );
      assert.equal(third.cursor, null);

      const exact = await t.store.listAudit({ principal: 'bob' }, 1);
      assert.equal(exact.entries.length, 1);
      assert.equal(exact.cursor, null, 'a page that ends exactly at the last entry has no cursor');
    } finally {
      await t.cleanup();
    }
  });

  test('a bad cursor is refused with invalid_cursor and a bad limit with invalid_limit', async () => {
    const t = await open();
    try {
      await seed(t.store);
      for (const cursor of ['', 'not a cursor', 'MDA', Buffer.from('-1').toString('base64url'), '!!'])
        await assert.rejects(t.store.listAudit({}, 10, cursor), {
          name: 'StoreInputError',
          code: 'invalid_cursor',
        });
      for (const limit of [0, -1, 1.5, Number.NaN])
        await assert.rejects(t.store.listAudit({}, limit), {
          name: 'StoreInputError',
          code: 'invalid_limit',
        });
    } finally {
      await t.cleanup();
    }
  });

  test('auditRange returns entries after a seq in seq order, at most limit; bad arguments are refused', async () => {
    const t = await open();
    try {
      const all = await seed(t.store);
      assert.deepEqual(await t.store.auditRange(0, 3), all.slice(0, 3));
      assert.deepEqual(await t.store.auditRange(3, 3), all.slice(3, 6));
      assert.deepEqual(await t.store.auditRange(6, 3), all.slice(6));
      assert.deepEqual(await t.store.auditRange(7, 3), []);
      assert.deepEqual(await t.store.auditRange(1000, 3), []);
      await assert.rejects(t.store.auditRange(-1, 3), { name: 'StoreInputError', code: 'invalid_cursor' });
      await assert.rejects(t.store.auditRange(0.5, 3), { name: 'StoreInputError', code: 'invalid_cursor' });
      await assert.rejects(t.store.auditRange(0, 0), { name: 'StoreInputError', code: 'invalid_limit' });
    } finally {
      await t.cleanup();
    }
  });
}
