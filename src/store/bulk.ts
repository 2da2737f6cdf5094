// Seeding many facts at once (tests, benchmarks, imports): batches of inserts, one transaction each, so a
// batch costs one fsync instead of one per fact. Works on any Store.
import type { FactRecord } from './ports/facts.ts';
import type { Store } from './store.ts';

/** Inserts the records in order; returns how many were new (duplicates by CID or id are skipped). */
export async function bulkInsertFacts(
  store: Store,
  records: Iterable<FactRecord>,
  batchSize = 10_000,
): Promise<number> {
  let inserted = 0;
  let batch: FactRecord[] = [];
  const flush = async (): Promise<void> => {
    const page = batch;
    batch = [];
    inserted += await store.tx(async (tx) => {
      let count = 0;
      for (const record of page) if ((await tx.insertFact(record)).inserted) count++;
      return count;
    });
  };
  for (const record of records) {
    batch.push(record);
    if (batch.length >= batchSize) await flush();
  }
  if (batch.length > 0) await flush();
  return inserted;
}
