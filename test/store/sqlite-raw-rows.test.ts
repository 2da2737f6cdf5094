// The SQLite fact reads fetch raw rows (arrays in FACT_COLUMNS order) and map them with factFromTuple: the
// records must be exactly what factFromRow makes of the same rows read as objects (the PostgreSQL store and
// the fact log still use factFromRow), for every read path and every kind of record.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import type { FactRecord } from '../../src/store/ports/facts.ts';
import {
  FACT_COLUMNS,
  type FactRow,
  type FactTuple,
  factFromRow,
  factFromTuple,
  seqOfTuple,
} from '../../src/store/sqlite/facts.ts';
import { fact, PEER_A, SELF } from './contract/records.ts';
import { tempStore } from './fixtures.ts';

/** Records that exercise every column: nulls, attestations, every value type, unicode and escapes. */
function variedFacts(): FactRecord[] {
  const out: FactRecord[] = [];
  const values: FactRecord['value'][] = [
    { type: 'string', v: 'plain' },
    { type: 'string', v: 'quote " backslash \\ tab \t newline \n é 漢字 🙂' },
    { type: 'text', v: 'x'.repeat(5000) },
    { type: 'number', v: 0.1 + 0.2 },
    { type: 'number', v: -1e21 },
    { type: 'boolean', v: false },
    { type: 'datetime', v: '2025-11-23T10:00:00.123456+01:00' },
    { type: 'ref', v: 'stigmem://example.org/user/alice' },
    { type: 'null', v: null },
  ];
  values.forEach((value, i) => {
    out.push(
      fact({
        entity: 'test:raw/one',
        value,
        confidence: i % 2 ? 0.123456789 : 1,
        scope: i % 3 === 0 ? 'public' : 'company',
        valid_until: i % 2 ? '2030-01-01T00:00:00Z' : null,
        attested:
          i % 3 === 1
            ? { by: 'spiffe://example.org/a', nested: { list: [1, 'two', null, { k: 'ü' }] } }
            : null,
        received_from: i % 4 === 1 ? PEER_A : null,
        origin_node_id: i % 4 === 1 ? PEER_A : SELF,
        origin_sig: i === 4 ? null : { kid: `k-${i}`, sig: 'B'.repeat(86) },
      }),
    );
  });
  return out;
}

test('factFromTuple of a raw row is factFromRow of the same row read as an object', async () => {
  const t = await tempStore();
  try {
    for (const record of variedFacts()) await t.store.insertFact(record);
    const db = new Database(t.file, { readonly: true });
    try {
      const sql = `SELECT ${FACT_COLUMNS} FROM facts ORDER BY seq`;
      const objects = db.prepare<[], FactRow>(sql).all();
      const tuples = db.prepare<[], FactTuple>(sql).raw().all();
      assert.equal(tuples.length, objects.length);
      assert.ok(objects.length >= 9);
      objects.forEach((row, i) => {
        assert.deepStrictEqual(factFromTuple(tuples[i]!), factFromRow(row));
        assert.equal(seqOfTuple(tuples[i]!), row.seq);
      });
    } finally {
      db.close();
    }
  } finally {
    await t.cleanup();
  }
});

test('listFacts, recentFacts, federationPage and getFact return the records factFromRow makes of the rows', async () => {
  const t = await tempStore();
  try {
    const records = variedFacts();
    for (const record of records) await t.store.insertFact(record);
    await t.store.insertFact(fact({ entity: 'test:raw/other' }));
    const db = new Database(t.file, { readonly: true });
    const rows = (where: string, ...params: unknown[]) =>
      db
        .prepare<unknown[], FactRow>(`SELECT ${FACT_COLUMNS} FROM facts WHERE ${where}`)
        .all(...params)
        .map(factFromRow);
    try {
      const all = rows('1 ORDER BY seq');

      // Paged list with a filter, over two pages (the cursor comes from the raw row's seq).
      const first = await t.store.listFacts({ entity: 'test:raw/one' }, 5);
      assert.deepStrictEqual(first.facts, rows('entity = ? ORDER BY seq LIMIT 5', 'test:raw/one'));
      assert.equal(first.total, records.length);
      assert.ok(first.cursor);
      const second = await t.store.listFacts({ entity: 'test:raw/one' }, 5, first.cursor);
      assert.deepStrictEqual(second.facts, rows('entity = ? ORDER BY seq LIMIT -1 OFFSET 5', 'test:raw/one'));
      assert.equal(second.cursor, null);
      assert.deepStrictEqual((await t.store.listFacts({}, 500)).facts, all);

      // Newest first, two pages.
      const recent = await t.store.recentFacts({}, 4);
      assert.deepStrictEqual(recent.facts, rows('1 ORDER BY seq DESC LIMIT 4'));
      assert.ok(recent.cursor);
      const older = await t.store.recentFacts({}, 100, recent.cursor);
      assert.deepStrictEqual(older.facts, rows('1 ORDER BY seq DESC LIMIT -1 OFFSET 4'));

      // The feed: signed facts only, a full page (cursor from the raw row after it) and the rest.
      const signed = rows('origin_sig IS NOT NULL ORDER BY seq');
      const page = await t.store.federationPage({ limit: 3, scopes: ['company', 'public'] });
      assert.equal(page.more, true);
      assert.deepStrictEqual(page.facts, signed.slice(0, 3));
      const rest = await t.store.federationPage({
        after: page.cursor,
        limit: 100,
        scopes: ['company', 'public'],
      });
      assert.deepStrictEqual(rest.facts, signed.slice(3));
      assert.equal(rest.more, false);

      // One fact by id and by cid.
      for (const record of all) {
        assert.deepStrictEqual(await t.store.getFact(record.id), record);
        assert.deepStrictEqual(await t.store.getFact(record.cid), record);
      }
      // factsToSign reads raw rows too.
      const unsigned = await t.store.factsToSign(SELF, 'k-none', 100);
      assert.deepStrictEqual(unsigned, rows('origin_node_id = ? ORDER BY seq', SELF));
    } finally {
      db.close();
    }
  } finally {
    await t.cleanup();
  }
});
