// The fact log service on a real SQLite store: sync() calls made while facts are stored each return only
// once every fact stored before the call is logged (calls coalesce, none is answered by a run that began
// too early); prove() signs a checkpoint of the whole log and proves each record against it; a record that
// is not stored is never given a proof.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { factLeafHash } from '../../../src/node/features/fact-log/append.ts';
import { checkpointSignatureProblem } from '../../../src/node/features/fact-log/checkpoint.ts';
import { FactLog } from '../../../src/node/features/fact-log/fact-log.ts';
import { verifyInclusion } from '../../../src/node/features/fact-log/merkle.ts';
import { generateKey } from '../../../src/node/features/rotation/key-files.ts';
import type { FactLogStore } from '../../../src/store/ports/fact-log.ts';
import { referenceRoot } from '../../store/contract/fact-log.ts';
import { fact } from '../../store/contract/records.ts';
import { tempStore } from '../../store/fixtures.ts';

const LOG_ID = 'spiffe://example.org/node/self';
const key = generateKey();
const NOW = new Date('2026-05-01T10:00:00.000Z');

test('each sync() resolves with every fact stored before the call in the log, while calls overlap', async () => {
  const t = await tempStore();
  try {
    const log = new FactLog({ store: t.store, logId: LOG_ID, nodeKey: () => key, now: () => NOW, batch: 3 });
    const checks: Promise<void>[] = [];
    const stored: string[] = [];
    for (let round = 0; round < 12; round++) {
      const record = fact();
      await t.store.insertFact(record);
      stored.push(record.cid);
      const before = [...stored];
      checks.push(
        log.sync().then(async (head) => {
          assert.ok(head.size >= before.length, `round ${round}: size ${head.size} < ${before.length}`);
          const indexes = await t.store.factLogIndexes(before);
          assert.equal(indexes.size, before.length, `round ${round}: every earlier fact is logged`);
        }),
      );
    }
    await Promise.all(checks);
    await log.idle();
    const indexes = await t.store.factLogIndexes(stored);
    assert.deepEqual(
      stored.map((cid) => indexes.get(cid)),
      stored.map((_, i) => i),
    );
  } finally {
    await t.cleanup();
  }
});

test('a sync() called while an append is finishing waits for one more run: the fact stored meanwhile is logged', async () => {
  const t = await tempStore();
  try {
    // The store, with each append held after it has written until the test lets it go.
    let release: () => void = () => undefined;
    let appended: () => void = () => undefined;
    const gate = () => new Promise<void>((resolve) => (release = resolve));
    const reached = () => new Promise<void>((resolve) => (appended = resolve));
    let held = gate();
    const store: FactLogStore = {
      factLogHead: () => t.store.factLogHead(),
      factLogNodes: (positions) => t.store.factLogNodes(positions),
      factLogIndexes: (cids) => t.store.factLogIndexes(cids),
      async appendFactLog(limit, build) {
        const head = await t.store.appendFactLog(limit, build);
        appended();
        await held;
        return head;
      },
    };
    const log = new FactLog({ store, logId: LOG_ID, nodeKey: () => key, now: () => NOW });
    const first = fact();
    await t.store.insertFact(first);
    const wasAppended = reached();
    const firstSync = log.sync();
    await wasAppended; // the first run has read and written its last batch
    const second = fact();
    await t.store.insertFact(second);
    const secondSync = log.sync();
    assert.equal(log.sync(), secondSync, 'later callers share the queued run');
    const stillHeld = held;
    held = Promise.resolve();
    release();
    await stillHeld;
    assert.equal((await firstSync).size, 1);
    const head = await secondSync;
    assert.equal(head.size, 2, 'the queued run logged the fact stored after the first run had read');
    assert.equal((await t.store.factLogIndexes([second.cid])).get(second.cid), 1);
  } finally {
    await t.cleanup();
  }
});

test('prove(): a checkpoint of the whole log signed with the node key, and a verifying proof per record', async () => {
  const t = await tempStore();
  try {
    const log = new FactLog({ store: t.store, logId: LOG_ID, nodeKey: () => key, now: () => NOW });
    const empty = await log.prove([]);
    assert.equal(empty.checkpoint.tree_size, 0);
    assert.equal(empty.checkpoint.root_hash, referenceRoot([]));
    const records = Array.from({ length: 11 }, () => fact());
    for (const record of records) await t.store.insertFact(record);
    const chosen = [records[10]!, records[0]!, records[5]!];
    const { checkpoint, proofs } = await log.prove(chosen);
    assert.equal(checkpointSignatureProblem(checkpoint), null);
    assert.deepEqual(
      { log_id: checkpoint.log_id, tree_size: checkpoint.tree_size, key_id: checkpoint.key_id },
      { log_id: LOG_ID, tree_size: 11, key_id: key.keyId },
    );
    assert.equal(checkpoint.timestamp, NOW.toISOString());
    assert.equal(checkpoint.root_hash, referenceRoot(records));
    assert.deepEqual(
      [...proofs.keys()],
      chosen.map((r) => r.cid),
    );
    for (const record of chosen) {
      const proof = proofs.get(record.cid)!;
      assert.equal(proof.log_index, records.indexOf(record));
      assert.ok(
        verifyInclusion(
          factLeafHash(record),
          proof.log_index,
          proof.tree_size,
          proof.inclusion_proof,
          checkpoint.root_hash,
        ),
      );
    }
  } finally {
    await t.cleanup();
  }
});

test('prove() refuses a record that is not stored instead of proving something else', async () => {
  const t = await tempStore();
  try {
    await t.store.insertFact(fact());
    const log = new FactLog({ store: t.store, logId: LOG_ID, nodeKey: () => key, now: () => NOW });
    const stranger = fact();
    await assert.rejects(
      log.prove([stranger]),
      new RegExp(`fact ${stranger.cid} is not in the fact log of 1 facts`),
    );
  } finally {
    await t.cleanup();
  }
});
