// The fact log: appends follow the facts' insertion order at dense indexes from 0 (also when a duplicate
// insert used up a sequence value), batches resume where the last one stopped with the right frontier, the
// stored tree gives the RFC 9162 root of all leaves, a builder that breaks the shape is refused with nothing
// written, concurrent appends extend one log, appends join transactions, bounded reads, durability.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildFactLogAppend, factLeafHash } from '../../../src/node/features/fact-log/append.ts';
import {
  EMPTY_ROOT,
  nodeHash,
  rootHash,
  subtreePositions,
} from '../../../src/node/features/fact-log/merkle.ts';
import { StoreInputError } from '../../../src/store/errors.ts';
import type { FactLogAppend, FactLogAppendState } from '../../../src/store/ports/fact-log.ts';
import type { FactRecord } from '../../../src/store/ports/facts.ts';
import type { Store } from '../../../src/store/store.ts';
import { fact } from './records.ts';
import type { OpenStore } from './types.ts';

/** MTH by the RFC's recursive definition over the facts' leaf hashes: what the stored tree must give. */
export function referenceRoot(records: readonly FactRecord[]): string {
  const mth = (leaves: string[]): string => {
    if (leaves.length === 0) return EMPTY_ROOT;
    if (leaves.length === 1) return leaves[0]!;
    let k = 1;
    while (k * 2 < leaves.length) k *= 2;
    return nodeHash(mth(leaves.slice(0, k)), mth(leaves.slice(k)));
  };
  return mth(records.map(factLeafHash));
}

/** The root of the stored tree of `size` leaves, read from the store's nodes. */
export async function storedRoot(store: Store, size: number): Promise<string> {
  const nodes = new Map<string, string>();
  const positions = size === 0 ? [] : subtreePositions(0, size);
  const hashes = await store.factLogNodes(positions);
  positions.forEach((p, i) => {
    assert.ok(hashes[i], `node (${p.level}, ${p.index}) is stored`);
    nodes.set(`${p.level}:${p.index}`, hashes[i]!);
  });
  return rootHash(size, (p) => nodes.get(`${p.level}:${p.index}`)!);
}

/** Appends until the log has every stored fact. */
export async function appendAll(store: Store, batch = 500): Promise<void> {
  for (;;) {
    const head = await store.appendFactLog(batch, buildFactLogAppend);
    if (head.lastSeq >= head.storedSeq) return;
  }
}

export function factLogContract(open: OpenStore): void {
  test('an empty log: size 0, nothing to append (the builder is not called), no nodes, no indexes', async () => {
    const t = await open();
    try {
      assert.deepEqual(await t.store.factLogHead(), { size: 0, lastSeq: 0, storedSeq: 0 });
      const head = await t.store.appendFactLog(10, () => assert.fail('build is not called without facts'));
      assert.deepEqual(head, { size: 0, lastSeq: 0, storedSeq: 0 });
      assert.deepEqual(await t.store.factLogNodes([{ level: 0, index: 0 }]), [null]);
      assert.equal((await t.store.factLogIndexes([fact().cid])).size, 0);
    } finally {
      await t.cleanup();
    }
  });

  test('batches append the stored facts in insertion order at indexes 0..n-1 with the frontier of the last', async () => {
    const t = await open();
    try {
      const records = Array.from({ length: 7 }, () => fact());
      for (const record of records) await t.store.insertFact(record);
      const states: FactLogAppendState[] = [];
      const build = (state: FactLogAppendState) => {
        states.push(state);
        return buildFactLogAppend(state);
      };
      const first = await t.store.appendFactLog(3, build);
      assert.equal(first.size, 3);
      assert.ok(first.lastSeq < first.storedSeq, 'more facts wait');
      await t.store.appendFactLog(3, build);
      const last = await t.store.appendFactLog(3, build);
      assert.equal(last.size, 7);
      assert.equal(last.lastSeq, last.storedSeq, 'caught up');
      assert.deepEqual(await t.store.factLogHead(), last);
      assert.deepEqual(
        states.map((s) => s.pending.map((p) => p.record.cid)),
        [records.slice(0, 3), records.slice(3, 6), records.slice(6)].map((batch) => batch.map((r) => r.cid)),
      );
      assert.deepEqual(
        states.map((s) => s.size),
        [0, 3, 6],
      );
      // Six leaves: the perfect subtrees [0, 4) and [4, 6).
      assert.deepEqual(
        states[2]!.frontier.map(({ level, index }) => [level, index]),
        [
          [2, 0],
          [1, 2],
        ],
      );
      assert.deepEqual(states[1]!.pending[0]!.record, records[3], 'pending facts are the stored records');
      const indexes = await t.store.factLogIndexes(records.map((r) => r.cid));
      assert.deepEqual(
        records.map((r) => indexes.get(r.cid)),
        [0, 1, 2, 3, 4, 5, 6],
      );
      assert.equal(await storedRoot(t.store, 7), referenceRoot(records));
      assert.equal(
        await storedRoot(t.store, 4),
        referenceRoot(records.slice(0, 4)),
        'older roots stay readable',
      );
      const leaves = await t.store.factLogNodes(records.map((_, index) => ({ level: 0, index })));
      assert.deepEqual(leaves, records.map(factLeafHash));
      await t.reopen();
      assert.deepEqual(await t.store.factLogHead(), last, 'kept across reopen');
      assert.equal(await storedRoot(t.store, 7), referenceRoot(records));
    } finally {
      await t.cleanup();
    }
  });

  test('the log stays dense when an insert stored nothing (a duplicate) between two facts', async () => {
    const t = await open();
    try {
      const a = fact();
      const b = fact();
      await t.store.insertFact(a);
      await t.store.insertFact(a); // a PostgreSQL identity column uses up a value here
      await t.store.insertFact(b);
      await appendAll(t.store);
      const indexes = await t.store.factLogIndexes([a.cid, b.cid]);
      assert.deepEqual([indexes.get(a.cid), indexes.get(b.cid)], [0, 1]);
      assert.equal((await t.store.factLogHead()).size, 2);
    } finally {
      await t.cleanup();
    }
  });

  test('a builder that breaks the shape is refused with invalid_record and nothing is written', async () => {
    const t = await open();
    try {
      const records = Array.from({ length: 3 }, () => fact());
      for (const record of records) await t.store.insertFact(record);
      await t.store.appendFactLog(1, buildFactLogAppend);
      const before = await t.store.factLogHead();
      const broken: [string, (state: FactLogAppendState) => unknown][] = [
        ['no append', () => null],
        ['no leaf', () => ({ leaves: [], nodes: [] })],
        [
          'a fact skipped',
          (s) => {
            const good = buildFactLogAppend({ ...s, pending: s.pending.slice(1) });
            return { ...good, leaves: [{ seq: s.pending[1]!.seq, cid: s.pending[1]!.record.cid }] };
          },
        ],
        [
          'facts swapped',
          (s) => {
            const good = buildFactLogAppend(s);
            return { ...good, leaves: [...good.leaves].reverse() };
          },
        ],
        [
          'a node missing',
          (s) => {
            const good = buildFactLogAppend(s);
            return { ...good, nodes: good.nodes.slice(1) };
          },
        ],
        [
          'a node misplaced',
          (s) => {
            const good = buildFactLogAppend(s);
            return { ...good, nodes: good.nodes.map((n, i) => (i === 0 ? { ...n, index: n.index + 8 } : n)) };
          },
        ],
        [
          'a hash that is not hex',
          (s) => {
            const good = buildFactLogAppend(s);
            return { ...good, nodes: good.nodes.map((n) => ({ ...n, hash: n.hash.toUpperCase() })) };
          },
        ],
      ];
      for (const [why, build] of broken)
        await assert.rejects(
          t.store.appendFactLog(5, build as (s: FactLogAppendState) => FactLogAppend),
          (error: unknown) => {
            assert.ok(error instanceof StoreInputError, why);
            assert.equal(error.code, 'invalid_record', why);
            assert.match(error.message, /^fact log append: /, why);
            return true;
          },
        );
      await assert.rejects(
        t.store.appendFactLog(5, () => {
          throw new Error('builder failed');
        }),
        /builder failed/,
      );
      assert.deepEqual(await t.store.factLogHead(), before, 'nothing written');
      assert.deepEqual(await t.store.factLogNodes([{ level: 0, index: 1 }]), [null]);
      await appendAll(t.store);
      assert.equal(await storedRoot(t.store, 3), referenceRoot(records), 'a good append goes on from there');
    } finally {
      await t.cleanup();
    }
  });

  test('concurrent appends while facts are inserted extend one log: every fact once, in insertion order', async () => {
    const t = await open();
    try {
      const records = Array.from({ length: 24 }, () => fact());
      const inserting = (async () => {
        for (const record of records) await t.store.insertFact(record);
      })();
      const appending = Array.from({ length: 4 }, async () => {
        for (let i = 0; i < 10; i++) await t.store.appendFactLog(2, buildFactLogAppend);
      });
      await Promise.all([inserting, ...appending]);
      await appendAll(t.store);
      const indexes = await t.store.factLogIndexes(records.map((r) => r.cid));
      assert.deepEqual(
        records.map((r) => indexes.get(r.cid)),
        records.map((_, i) => i),
      );
      assert.equal(await storedRoot(t.store, 24), referenceRoot(records));
    } finally {
      await t.cleanup();
    }
  });

  test('an append inside a transaction joins it: rolled back with it', async () => {
    const t = await open();
    try {
      await t.store.insertFact(fact());
      await assert.rejects(
        t.store.tx(async (tx) => {
          const head = await tx.appendFactLog(10, buildFactLogAppend);
          assert.equal(head.size, 1);
          throw new Error('roll back');
        }),
        /roll back/,
      );
      assert.equal((await t.store.factLogHead()).size, 0);
      assert.deepEqual(await t.store.factLogNodes([{ level: 0, index: 0 }]), [null]);
    } finally {
      await t.cleanup();
    }
  });

  test('reads are bounded: at most 4096 positions and 1000 CIDs at once, positions must be valid', async () => {
    const t = await open();
    try {
      const many = Array.from({ length: 4097 }, (_, index) => ({ level: 0, index }));
      await assert.rejects(t.store.factLogNodes(many), { name: 'StoreInputError', code: 'invalid_limit' });
      for (const bad of [
        { level: -1, index: 0 },
        { level: 63, index: 0 },
        { level: 0, index: -1 },
        { level: 0, index: 0.5 },
      ])
        await assert.rejects(t.store.factLogNodes([bad]), {
          name: 'StoreInputError',
          code: 'invalid_record',
        });
      const cids = Array.from({ length: 1001 }, () => fact().cid);
      await assert.rejects(t.store.factLogIndexes(cids), { name: 'StoreInputError', code: 'invalid_limit' });
      await assert.rejects(t.store.appendFactLog(0, buildFactLogAppend), { code: 'invalid_limit' });
    } finally {
      await t.cleanup();
    }
  });
}
