// Offline verification of real recall answers (a node as composed, real SQLite): an untouched answer passes
// every check, and each kind of tampering fails the check that names it — content (cid), a rewritten fact
// (id, inclusion, origin signature), the audit path, the index, the size, the checkpoint's fields, a
// checkpoint signed by another key — while what nothing known can decide is reported as skipped.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { signCheckpoint } from '../../../src/node/features/fact-log/checkpoint.ts';
import {
  addManifestKeys,
  addTrustedKey,
  type TrustedKeys,
} from '../../../src/node/features/fact-log/trusted-keys.ts';
import { type ProofCheck, verifyProofDocument } from '../../../src/node/features/fact-log/verify-proof.ts';
import { factCid } from '../../../src/node/features/facts/cid.ts';
import { factId } from '../../../src/node/features/facts/fact-id.ts';
import { signOrigin } from '../../../src/node/features/facts/origin-signature.ts';
import { buildManifest } from '../../../src/node/features/identity/manifest.ts';
import type { NodeKey } from '../../../src/node/features/identity/node-key.ts';
import { generateKey } from '../../../src/node/features/rotation/key-files.ts';
import { signRotationEvent } from '../../../src/node/features/rotation/rotation-event.ts';
import type { FactContent, FactRecord } from '../../../src/store/ports/facts.ts';
import { bearer, manualClock, NODE_URI, type NodeApp, startNodeApp } from '../../support/node-app.ts';

const ADMIN = 'verify-proof-test-admin-key-012345';
const PEER = 'spiffe://example.org/node/peer';

type Doc = {
  facts: (FactRecord & { chain_proof: Record<string, unknown> })[];
  chain_proof: { checkpoint: Record<string, unknown> & { key_id: string } };
};

/** A fact that originated at PEER, signed with `key`, as this node stores a replicated one. */
function peerFact(v: string, key: NodeKey, hlcMs: number): FactRecord {
  const content: FactContent = {
    entity: 'acme:peer/1',
    relation: 'status',
    value: { type: 'string', v },
    source: 'ops',
    confidence: 1,
    scope: 'company',
  };
  const cid = factCid(content);
  const signed = {
    id: factId(cid),
    cid,
    hlc: `${String(hlcMs).padStart(15, '0')}-000000`,
    origin_node_id: PEER,
  };
  return {
    ...content,
    ...signed,
    timestamp: '2026-05-01T09:00:00Z',
    valid_until: null,
    attested: null,
    received_from: PEER,
    origin_sig: signOrigin(signed, key),
  };
}

const failed = (checks: ProofCheck[]) =>
  checks
    .filter((c) => c.status === 'fail')
    .map((c) => `${c.subject.split(' ').slice(0, 2).join(' ')}: ${c.check}`);
const skipped = (checks: ProofCheck[]) =>
  checks
    .filter((c) => c.status === 'skip')
    .map((c) => `${c.subject.split(' ').slice(0, 2).join(' ')}: ${c.check}`);

describe('verify-proof on real recall answers', () => {
  let node: NodeApp;
  let answer: Doc;
  let keys: TrustedKeys;
  const peerOld = generateKey();
  const peerNew = generateKey();
  const time = manualClock();

  before(async () => {
    node = await startNodeApp({ clock: time.clock, env: { TESSERA_API_KEY: ADMIN } });
    const headers = { ...bearer(ADMIN), 'content-type': 'application/json' };
    for (const v of ['hardening check passed', 'unrelated', 'hardening check pending']) {
      const response = await node.app.inject({
        method: 'POST',
        url: '/v1/facts',
        headers,
        payload: JSON.stringify({ entity: 'acme:site/1', relation: 'status', value: v, scope: 'company' }),
      });
      assert.equal(response.statusCode, 201);
      time.advance(1000);
    }
    // Replicated from PEER: one signed before its key rotation (old key), one after.
    await node.node.store.insertFact(
      peerFact('hardening check by peer, old key', peerOld, time.nowMs() - 5000),
    );
    await node.node.store.insertFact(
      peerFact('hardening check by peer, new key', peerNew, time.nowMs() - 4000),
    );
    const response = await node.app.inject({
      method: 'POST',
      url: '/v1/recall',
      headers: { ...headers, 'stigmem-verify': 'full' },
      payload: JSON.stringify({ query: 'hardening check', scope: 'company', token_budget: 10_000 }),
    });
    assert.equal(response.statusCode, 200);
    answer = response.json();
    assert.equal(answer.facts.length, 4);
    const nodeManifest = (
      await node.app.inject({ method: 'GET', url: '/.well-known/tessera-manifest.json' })
    ).json();
    const rotation = signRotationEvent({
      kind: 'node',
      oldKey: peerOld,
      newKey: peerNew,
      rotatedAt: time.clock(),
      dualTrustUntil: new Date(time.nowMs() + 86_400_000),
    });
    const peerManifest = buildManifest({
      nodeKey: peerNew,
      entityUri: PEER,
      tlsSpkiSha256: '',
      now: time.clock(),
      rotationEvents: [rotation],
    });
    keys = new Map();
    addManifestKeys(keys, nodeManifest);
    addManifestKeys(keys, peerManifest);
  });
  after(() => node?.close());

  const copy = (): Doc => structuredClone(answer);
  const own = (doc: Doc) => doc.facts.findIndex((f) => f.origin_node_id === NODE_URI);

  test('an untouched answer passes every check; with both manifests nothing is skipped', () => {
    const verdict = verifyProofDocument(answer, { keys });
    assert.equal(verdict.ok, true);
    assert.equal(verdict.facts, 4);
    assert.deepEqual(failed(verdict.checks), []);
    assert.deepEqual(skipped(verdict.checks), []);
    assert.equal(verdict.checks.length, 2 + 4 * 4, 'checkpoint signature and key, four checks per fact');
    const origins = verdict.checks.filter((c) => c.check === 'origin signature').map((c) => c.detail);
    assert.ok(
      origins.some((d) => d.includes(`key ${peerOld.keyId} of ${PEER}`)),
      'old peer key from the rotation event',
    );
    assert.ok(origins.some((d) => d.includes(`key ${peerNew.keyId} of ${PEER}`)));
  });

  test("without manifests: consistent with itself; the checkpoint key and peers' signatures are skipped", () => {
    const verdict = verifyProofDocument(answer);
    assert.equal(verdict.ok, true);
    assert.deepEqual(
      skipped(verdict.checks).sort(),
      [
        'checkpoint: key',
        ...answer.facts.flatMap((f, i) => (f.origin_node_id === PEER ? [`fact ${i}: origin signature`] : [])),
      ].sort(),
    );
  });

  test('a changed value fails the cid check of that fact only (its leaf binds the CID, not the text)', () => {
    const doc = copy();
    const i = own(doc);
    doc.facts[i]!.value = { type: 'string', v: 'hardening check FAILED' };
    const verdict = verifyProofDocument(doc, { keys });
    assert.equal(verdict.ok, false);
    assert.deepEqual(failed(verdict.checks), [`fact ${i}: cid`]);
    assert.match(
      verdict.checks.find((c) => c.status === 'fail')!.detail,
      /^the content hashes to sha256:[0-9a-f]{64}, the fact says/,
    );
  });

  test('a rewritten fact with a matching cid and id fails inclusion and the origin signature', () => {
    const doc = copy();
    const i = own(doc);
    const fact = doc.facts[i]!;
    fact.value = { type: 'string', v: 'hardening check FAILED' };
    fact.cid = factCid(fact);
    fact.id = factId(fact.cid);
    fact.chain_proof.cid = fact.cid;
    const verdict = verifyProofDocument(doc, { keys });
    assert.deepEqual(failed(verdict.checks), [`fact ${i}: inclusion`, `fact ${i}: origin signature`]);
  });

  test('a changed id fails the id check; a chain_proof.cid of another fact fails the cid check', () => {
    const doc = copy();
    doc.facts[0]!.id = factId(doc.facts[1]!.cid);
    doc.facts[1]!.chain_proof.cid = doc.facts[0]!.cid;
    const verdict = verifyProofDocument(doc, { keys });
    assert.deepEqual(failed(verdict.checks), [
      'fact 0: id',
      'fact 0: inclusion',
      'fact 0: origin signature',
      'fact 1: cid',
    ]);
  });

  test('an altered, shortened or reordered audit path, another index or size fails inclusion', () => {
    const i = answer.facts.findIndex((f) => (f.chain_proof.inclusion_proof as string[]).length >= 2);
    assert.ok(i >= 0);
    const tamper: ((p: Record<string, unknown>) => void)[] = [
      (p) => {
        const path = p.inclusion_proof as string[];
        path[0] = path[0]!.replace(/^./, (c) => (c === '0' ? '1' : '0'));
      },
      (p) => (p.inclusion_proof as string[]).pop(),
      (p) => (p.inclusion_proof as string[]).reverse(),
      (p) => {
        p.log_index = ((p.log_index as number) + 1) % (p.tree_size as number);
      },
      (p) => {
        p.tree_size = (p.tree_size as number) + 1;
      },
    ];
    for (const change of tamper) {
      const doc = copy();
      change(doc.facts[i]!.chain_proof);
      const verdict = verifyProofDocument(doc, { keys });
      assert.deepEqual(failed(verdict.checks), [`fact ${i}: inclusion`], change.toString());
    }
  });

  test('a checkpoint field changed after signing fails its signature, and nothing is checked against it', () => {
    for (const [field, value] of [
      ['root_hash', '0'.repeat(64)],
      ['tree_size', 99],
      ['log_id', 'spiffe://example.org/node/evil'],
      ['timestamp', '2030-01-01T00:00:00.000Z'],
    ] as const) {
      const doc = copy();
      (doc.chain_proof.checkpoint as Record<string, unknown>)[field] = value;
      const verdict = verifyProofDocument(doc, { keys });
      assert.deepEqual(failed(verdict.checks), ['checkpoint: signature'], field);
      assert.equal(verdict.checks.length, 1);
    }
  });

  test('a checkpoint signed by another key: the pinned node key fails it; unpinned, own facts cannot be checked', () => {
    const doc = copy();
    const forger = generateKey();
    const c = doc.chain_proof.checkpoint;
    doc.chain_proof.checkpoint = signCheckpoint(
      {
        logId: c.log_id as string,
        treeSize: c.tree_size as number,
        rootHash: c.root_hash as string,
        timestamp: new Date(c.timestamp as string),
      },
      forger,
    );
    const pinned = verifyProofDocument(doc, { keys });
    assert.deepEqual(failed(pinned.checks), ['checkpoint: key']);
    assert.match(
      pinned.checks[1]!.detail,
      new RegExp(`key ${forger.keyId} is not a known node key of ${NODE_URI}`),
    );
    const pinnedByKey: TrustedKeys = new Map();
    addTrustedKey(pinnedByKey, NODE_URI, answer.chain_proof.checkpoint.public_key as string);
    assert.deepEqual(failed(verifyProofDocument(doc, { keys: pinnedByKey }).checks), ['checkpoint: key']);
    const unpinned = verifyProofDocument(doc);
    assert.equal(unpinned.ok, true, 'self-consistent');
    assert.ok(skipped(unpinned.checks).includes('checkpoint: key'));
    assert.ok(
      skipped(unpinned.checks).includes(`fact ${own(doc)}: origin signature`),
      "the node's key is unknown now",
    );
  });

  test("a chain_proof.origin_sig that is not the fact's, or a bad signature, fails the origin check", () => {
    const doc = copy();
    const [a, b] = [0, 1].map((i) => doc.facts[i]!);
    a!.chain_proof.origin_sig = b!.origin_sig;
    const other = structuredClone(answer);
    const own0 = own(other);
    const sig = other.facts[own0]!.origin_sig!;
    const bad = {
      kid: sig.kid,
      sig: `${sig.sig.slice(0, 10)}${sig.sig[10] === 'A' ? 'B' : 'A'}${sig.sig.slice(11)}`,
    };
    other.facts[own0]!.origin_sig = bad;
    other.facts[own0]!.chain_proof.origin_sig = bad;
    assert.deepEqual(failed(verifyProofDocument(doc, { keys }).checks), ['fact 0: origin signature']);
    assert.deepEqual(failed(verifyProofDocument(other, { keys }).checks), [`fact ${own0}: origin signature`]);
  });

  test('one fact with the checkpoint ({fact, chain_proof}) is checked the same way', () => {
    const verdict = verifyProofDocument({ fact: answer.facts[0], chain_proof: answer.chain_proof }, { keys });
    assert.equal(verdict.ok, true);
    assert.equal(verdict.facts, 1);
    assert.equal(verdict.checks.length, 6);
  });

  test('what is not a proof document, or a malformed fact in one, is a failure that says so', () => {
    for (const input of [null, 'text', [], {}, { facts: [] }, { facts: [], chain_proof: {} }]) {
      const verdict = verifyProofDocument(input);
      assert.deepEqual(failed(verdict.checks), ['document: document'], JSON.stringify(input));
      assert.match(verdict.checks[0]!.detail, /ask with Stigmem-Verify: full/);
    }
    const doc = copy() as unknown as { facts: Record<string, unknown>[] };
    delete doc.facts[1]!.chain_proof;
    doc.facts[2]!.extra = true;
    const verdict = verifyProofDocument(doc, { keys });
    assert.deepEqual(failed(verdict.checks), ['fact 1: record', 'fact 2: record']);
    assert.match(
      verdict.checks.find((c) => c.subject.startsWith('fact 1'))!.detail,
      /^malformed: chain_proof: /,
    );
  });
});
