// FactService over a real SQLite file: local assertions and ingest of peer records inside a transaction.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { httpStatusOf, NodeError } from '../../../src/node/errors.ts';
import { factCid } from '../../../src/node/features/facts/cid.ts';
import { formatHlc, HybridClock } from '../../../src/node/features/facts/hlc.ts';
import { FactService } from '../../../src/node/features/facts/service.ts';
import type { FactContent, FactRecord } from '../../../src/store/ports/facts.ts';
import { openSqliteStore } from '../../../src/store/sqlite/open.ts';
import type { Store } from '../../../src/store/store.ts';

const SELF = 'spiffe://example.org/node/b';
const PEER = 'spiffe://example.org/node/a';
const ORIGIN = 'spiffe://example.org/node/c';
const NOW = 1_763_900_000_000;

let dir: string;
let store: Store;
let hlc: HybridClock;
let service: FactService;
const writes: FactRecord[] = [];

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tessera-facts-service-'));
  store = await openSqliteStore(join(dir, 'tessera.db'));
  hlc = new HybridClock(() => NOW);
  let n = 0;
  service = new FactService({
    store,
    selfEntityUri: SELF,
    hlc,
    now: () => new Date(NOW),
    newId: () => `local-${++n}`,
    onWrite: (record) => writes.push(record),
  });
});

after(async () => {
  await store?.close();
  await rm(dir, { recursive: true, force: true });
});

function peerRecord(entity: string, overrides: Partial<FactRecord> = {}): FactRecord {
  const content: FactContent = {
    entity,
    relation: 'test:r',
    value: { type: 'boolean', v: true },
    source: 'seed',
    confidence: 0.25,
    scope: 'company',
  };
  return {
    id: `remote-${entity}`,
    ...content,
    timestamp: '2025-12-31T23:00:00.5-01:00',
    valid_until: '2030-01-01T00:00:00Z',
    hlc: '001763900030000-000009', // 30 s ahead of our wall clock
    cid: factCid(content),
    attested: null,
    received_from: 'spiffe://example.org/node/whoever',
    origin_node_id: ORIGIN,
    ...overrides,
  };
}

const isHttp = (status: number, code: string) => (error: unknown) =>
  error instanceof NodeError && httpStatusOf(error.code) === status && error.code === code;

test('assert: id from newId, HLC from the clock, origin = this node; duplicate → created false', async () => {
  const body = {
    entity: 'test:svc',
    relation: 'test:r',
    value: { type: 'text', v: 'hello' },
    source: 'me',
    scope: 'team',
  };
  const first = await service.assert(body);
  assert.equal(first.created, true);
  assert.equal(first.record.id, 'local-1');
  assert.equal(first.record.hlc, '001763900000000-000000');
  assert.equal(first.record.origin_node_id, SELF);
  assert.equal(first.record.received_from, null);
  assert.equal(writes.length, 1);

  const second = await service.assert({ ...body, confidence: 1 });
  assert.equal(second.created, false);
  assert.deepEqual(second.record, first.record);
  assert.equal(writes.length, 1, 'onWrite only for real writes');
  await assert.rejects(service.assert({ ...body, scope: 'x' }), isHttp(422, 'validation_failed'));
});

test('ingest keeps id, hlc, timestamp, valid_until and origin, sets received_from, and merges the HLC', async () => {
  const remote = peerRecord('test:ingest');
  const result = await store.tx((tx) => service.ingest(tx, remote, PEER));
  assert.equal(result.inserted, true);
  const stored = await store.getFact(remote.cid);
  assert.deepEqual(stored, { ...remote, received_from: PEER });
  assert.equal(writes.length, 1, 'ingest does not announce (the caller commits)');
  // Our next local HLC is after the peer's, although our wall clock is behind it.
  const next = hlc.now();
  assert.ok(next > remote.hlc, `${next} > ${remote.hlc}`);

  const again = await store.tx((tx) => service.ingest(tx, { ...remote, id: 'other-id' }, PEER));
  assert.equal(again.inserted, false, 'same CID from another path is not stored twice');
  assert.equal(again.record.id, remote.id);
});

test('ingest and a cursor commit together: a failure later in the transaction stores nothing', async () => {
  const count = await store.countFacts();
  await assert.rejects(
    store.tx(async (tx) => {
      await service.ingest(tx, peerRecord('test:rollback'), PEER);
      throw new Error('crash before the cursor is saved');
    }),
    /crash before the cursor/,
  );
  assert.equal(await store.countFacts(), count);
  assert.equal(await store.getFact(peerRecord('test:rollback').cid), null);
});

test('ingest refuses a wrong CID, a malformed record, a local fact and a clock too far ahead; nothing stored', async () => {
  const count = await store.countFacts();
  const ingest = (record: unknown) => store.tx((tx) => service.ingest(tx, record, PEER));
  const good = peerRecord('test:bad');
  await assert.rejects(
    ingest({ ...good, value: { type: 'boolean', v: false } }),
    isHttp(422, 'cid_mismatch'),
  );
  await assert.rejects(ingest({ ...good, hlc: '1763900000000.009' }), isHttp(422, 'validation_failed'));
  const { attested: _a, ...noAttested } = good;
  await assert.rejects(ingest(noAttested), isHttp(422, 'validation_failed'));
  const local = peerRecord('test:local', { scope: 'local' });
  await assert.rejects(ingest({ ...local, cid: factCid(local) }), isHttp(422, 'scope_not_federated'));
  const before = hlc.current();
  await assert.rejects(ingest({ ...good, hlc: '001763999999999-000000' }), isHttp(422, 'clock_skew'));
  assert.equal(hlc.current(), before, 'a refused clock is not merged');
  assert.equal(await store.countFacts(), count);
});

test('a far-future fact from a peer cannot break local writes; 60 s ahead is the default limit', async () => {
  const ingest = (record: unknown) => store.tx((tx) => service.ingest(tx, record, PEER));
  // The attack of the finding: the largest HLC the wire format allows.
  await assert.rejects(
    ingest({ ...peerRecord('test:future'), hlc: '999999999999999-999998' }),
    isHttp(422, 'clock_skew'),
  );
  const justInside = formatHlc({ wallMs: NOW + 60_000, counter: 0 });
  assert.equal((await ingest({ ...peerRecord('test:near-future'), hlc: justInside })).inserted, true);
  assert.equal(
    hlc.current(),
    formatHlc({ wallMs: NOW + 60_000, counter: 1 }),
    'an accepted fact advances the clock past it',
  );
  const { record, created } = await service.assert({
    entity: 'test:after-future',
    relation: 'test:r',
    value: { type: 'text', v: 'still writable' },
    source: 'me',
    scope: 'team',
  });
  assert.equal(created, true, 'local writes still work');
  assert.ok(record.hlc > justInside, 'and are ordered after what was accepted');
});

test('a restarted node starts its clock above the largest stored HLC, even if the wall clock stepped back', async () => {
  const stored = await store.maxHlc();
  assert.ok(stored);
  const stepped = new HybridClock(() => NOW - 3_600_000, { initial: stored });
  assert.ok(stepped.now() > stored);
});
