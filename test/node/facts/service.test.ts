// FactService over a real SQLite file: local assertions (content-derived id, origin signature) and the two
// steps of taking in a peer's record: checkRemote alone, storeRemote inside a transaction.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { httpStatusOf, NodeError } from '../../../src/node/errors.ts';
import { factCid } from '../../../src/node/features/facts/cid.ts';
import { factId } from '../../../src/node/features/facts/fact-id.ts';
import { formatHlc, HybridClock } from '../../../src/node/features/facts/hlc.ts';
import { originSignatureValid, signOrigin } from '../../../src/node/features/facts/origin-signature.ts';
import { FactService } from '../../../src/node/features/facts/service.ts';
import { generateKey } from '../../../src/node/features/rotation/key-files.ts';
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
const selfKey = generateKey();
const originKey = generateKey();

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tessera-facts-service-'));
  store = await openSqliteStore(join(dir, 'tessera.db'));
  hlc = new HybridClock(() => NOW);
  service = new FactService({
    store,
    selfEntityUri: SELF,
    nodeKey: () => selfKey,
    hlc,
    now: () => new Date(NOW),
    attested: { maxBytes: 64, maxDepth: 3 },
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
  const cid = factCid(content);
  const signed = { id: factId(cid), cid, hlc: '001763900030000-000009', origin_node_id: ORIGIN }; // 30 s ahead
  return {
    ...content,
    ...signed,
    timestamp: '2025-12-31T23:00:00.5-01:00',
    valid_until: '2030-01-01T00:00:00Z',
    attested: null,
    received_from: 'spiffe://example.org/node/whoever',
    origin_sig: signOrigin(signed, originKey),
    ...overrides,
  };
}

/** checkRemote then storeRemote in one transaction, as the puller does (origin already verified). */
const ingest = (record: unknown) =>
  store.tx(async (tx) => service.storeRemote(tx, service.checkRemote(record), PEER, { currentKey: true }));

const isHttp = (status: number, code: string) => (error: unknown) =>
  error instanceof NodeError && httpStatusOf(error.code) === status && error.code === code;

test('assert: id derived from the CID, HLC from the clock, origin = this node, signed; duplicate → created false', async () => {
  const body = {
    entity: 'test:svc',
    relation: 'test:r',
    value: { type: 'text', v: 'hello' },
    source: 'me',
    scope: 'team',
  };
  const first = await service.assert(body);
  assert.equal(first.created, true);
  assert.equal(first.record.id, factId(first.record.cid));
  assert.match(first.record.id, /^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.equal(first.record.hlc, '001763900000000-000000');
  assert.equal(first.record.origin_sig?.kid, selfKey.keyId);
  assert.ok(originSignatureValid(first.record, first.record.origin_sig!, selfKey.publicKey));
  assert.deepEqual(await store.getFact(first.record.id), first.record, 'stored with its signature');
  assert.equal(first.record.origin_node_id, SELF);
  assert.equal(first.record.received_from, null);
  assert.equal(writes.length, 1);

  const second = await service.assert({ ...body, confidence: 1 });
  assert.equal(second.created, false);
  assert.deepEqual(second.record, first.record);
  assert.equal(writes.length, 1, 'onWrite only for real writes');
  await assert.rejects(service.assert({ ...body, scope: 'x' }), isHttp(422, 'validation_failed'));
});

test('a local write whose derived id is held by other content is refused with 409 id_conflict, nothing written', async () => {
  const body = {
    entity: 'test:squatted',
    relation: 'test:r',
    value: { type: 'text', v: 'genuine' },
    source: 'me',
  };
  const cid = factCid({ ...body, value: { type: 'text', v: 'genuine' }, confidence: 1, scope: 'local' });
  // A record stored under that id with other content (only a store written before ids were derived, or by
  // hand, can hold one): the genuine fact must not be answered with it.
  const squatter = peerRecord('test:squatter', { id: factId(cid) });
  await store.insertFact(squatter);
  const count = await store.countFacts();
  await assert.rejects(service.assert(body), isHttp(409, 'id_conflict'));
  assert.equal(await store.countFacts(), count);
  assert.equal(await store.getFact(cid), null);
});

test('storeRemote keeps id, hlc, timestamp, valid_until, origin and signature, sets received_from, merges the HLC', async () => {
  const remote = peerRecord('test:ingest');
  const result = await ingest(remote);
  assert.equal(result.inserted, true);
  const stored = await store.getFact(remote.cid);
  assert.deepEqual(stored, { ...remote, received_from: PEER });
  assert.equal(writes.length, 1, 'ingest does not announce (the caller commits)');
  // Our next local HLC is after the peer's, although our wall clock is behind it.
  const next = hlc.now();
  assert.ok(next > remote.hlc, `${next} > ${remote.hlc}`);

  const again = await ingest({ ...remote, received_from: null });
  assert.equal(again.inserted, false, 'same CID from another path is not stored twice');
  assert.equal(again.record.id, remote.id);
});

test('checkRemote refuses an id that is not derived from the CID (a squat of another fact id): id_conflict', async () => {
  const genuine = peerRecord('test:genuine');
  const squat = peerRecord('test:squat', { id: genuine.id });
  assert.throws(() => service.checkRemote(squat), isHttp(409, 'id_conflict'));
  assert.throws(() => service.checkRemote({ ...genuine, id: 'made-up' }), isHttp(409, 'id_conflict'));
  assert.equal(service.checkRemote(genuine).id, genuine.id);
});

test('a stored copy without a signature, or with an older one, takes the verified signature of a duplicate', async () => {
  const remote = peerRecord('test:resign');
  await store.insertFact({ ...remote, origin_sig: null, received_from: PEER });
  await ingest(remote);
  assert.deepEqual((await store.getFact(remote.cid))?.origin_sig, remote.origin_sig, 'unsigned copy signed');
  const rotated = generateKey();
  const resigned = { ...remote, origin_sig: signOrigin(remote, rotated) };
  await store.tx(async (tx) => service.storeRemote(tx, resigned, PEER, { currentKey: false }));
  assert.deepEqual(
    (await store.getFact(remote.cid))?.origin_sig,
    remote.origin_sig,
    'a window key does not replace',
  );
  await store.tx(async (tx) => service.storeRemote(tx, resigned, PEER, { currentKey: true }));
  assert.deepEqual(
    (await store.getFact(remote.cid))?.origin_sig,
    resigned.origin_sig,
    'the current key does',
  );
});

test('storeRemote and a cursor commit together: a failure later in the transaction stores nothing', async () => {
  const count = await store.countFacts();
  await assert.rejects(
    store.tx(async (tx) => {
      await service.storeRemote(tx, peerRecord('test:rollback'), PEER, { currentKey: true });
      throw new Error('crash before the cursor is saved');
    }),
    /crash before the cursor/,
  );
  assert.equal(await store.countFacts(), count);
  assert.equal(await store.getFact(peerRecord('test:rollback').cid), null);
});

test('checkRemote refuses a wrong CID, a malformed record, a local fact, a clock too far ahead and an oversized attested', async () => {
  const count = await store.countFacts();
  const good = peerRecord('test:bad');
  await assert.rejects(
    ingest({ ...good, value: { type: 'boolean', v: false } }),
    isHttp(422, 'cid_mismatch'),
  );
  await assert.rejects(ingest({ ...good, hlc: '1763900000000.009' }), isHttp(422, 'validation_failed'));
  const { attested: _a, ...noAttested } = good;
  await assert.rejects(ingest(noAttested), isHttp(422, 'validation_failed'));
  const { origin_sig: _s, ...noSignature } = good;
  await assert.rejects(ingest(noSignature), isHttp(422, 'validation_failed'));
  await assert.rejects(
    ingest({ ...good, origin_sig: { kid: 'k', sig: 'short' } }),
    isHttp(422, 'validation_failed'),
  );
  const local = peerRecord('test:local', { scope: 'local' });
  const localCid = factCid(local);
  await assert.rejects(
    ingest({ ...local, cid: localCid, id: factId(localCid) }),
    isHttp(422, 'scope_not_federated'),
  );
  // The limits of this service (the node's settings): 64 bytes, 3 levels.
  await assert.rejects(
    ingest({ ...good, attested: { sig: 'x'.repeat(64) } }),
    (e) => isHttp(422, 'validation_failed')(e) && /at most 64 bytes/.test((e as Error).message),
  );
  await assert.rejects(
    ingest({ ...good, attested: { a: { b: { c: { d: 1 } } } } }),
    (e) => isHttp(422, 'validation_failed')(e) && /at most 3 levels/.test((e as Error).message),
  );
  assert.equal((await ingest({ ...good, attested: { a: { b: { c: 1 } } } })).inserted, true, 'at the limits');
  const afterGood = await store.countFacts();
  assert.equal(afterGood, count + 1);
  const before = hlc.current();
  await assert.rejects(ingest({ ...good, hlc: '001763999999999-000000' }), isHttp(422, 'clock_skew'));
  assert.equal(hlc.current(), before, 'a refused clock is not merged');
  assert.equal(await store.countFacts(), afterGood);
});

test('a far-future fact from a peer cannot break local writes; 60 s ahead is the default limit', async () => {
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
