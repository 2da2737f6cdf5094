// Seeds a node's database directly (before the node starts) with facts that originated at that node:
// replication tests and benchmarks need tens of thousands of facts faster than an API loop could write them.
// They are stored unsigned, like facts from before origin signatures, so every use also runs the start-up
// signing of the node's own facts.
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { factCid } from '../../src/node/features/facts/cid.ts';
import { factId } from '../../src/node/features/facts/fact-id.ts';
import { HybridClock } from '../../src/node/features/facts/hlc.ts';
import type { FactContent, FactRecord } from '../../src/store/ports/facts.ts';
import { openSqliteStore } from '../../src/store/sqlite/open.ts';

/** The content of seeded fact `i` (its CID is factCid of it: callers can look a seeded fact up). */
export function seededContent(i: number): FactContent {
  return {
    entity: `test:item/${i}`,
    relation: 'test:seq',
    value: { type: 'number', v: i },
    source: 'seed',
    confidence: 1,
    scope: 'company',
  };
}

/** The CID of seeded fact `i`. */
export const seededCid = (i: number): string => factCid(seededContent(i));

export async function seedFacts(
  dataDir: string,
  origin: string,
  count: number,
  batch = 10_000,
): Promise<void> {
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const store = await openSqliteStore(join(dataDir, 'tessera.db'));
  const hlc = new HybridClock(() => Date.now());
  const now = new Date().toISOString();
  try {
    for (let start = 0; start < count; start += batch) {
      await store.tx(async (tx) => {
        for (let i = start; i < Math.min(count, start + batch); i++) {
          const content = seededContent(i);
          const cid = factCid(content);
          const record: FactRecord = {
            ...content,
            id: factId(cid),
            timestamp: now,
            valid_until: null,
            hlc: hlc.now(),
            cid,
            attested: null,
            received_from: null,
            origin_node_id: origin,
            // Unsigned, as facts stored before origin signatures: the node signs them when it starts.
            origin_sig: null,
          };
          await tx.insertFact(record);
        }
      });
    }
  } finally {
    await store.close();
  }
}

/** Row counts read straight from a (stopped) node's database file. */
export function countOnDisk(dataDir: string): { rows: number; distinctCids: number; distinctIds: number } {
  const db = new Database(join(dataDir, 'tessera.db'), { readonly: true });
  try {
    return db
      .prepare(
        'SELECT count(*) AS rows, count(DISTINCT cid) AS distinctCids, count(DISTINCT id) AS distinctIds FROM facts',
      )
      .get() as { rows: number; distinctCids: number; distinctIds: number };
  } finally {
    db.close();
  }
}
