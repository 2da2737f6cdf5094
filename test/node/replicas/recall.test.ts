// Two replicas of one node on PostgreSQL answer recall with proofs from one fact log: after writes on
// both, each replica's checkpoint names the same tree (size and root), every fact sits at the same index
// in both answers, and each answer verifies offline with the node's one key.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { request } from 'undici';
import { addTrustedKey, type TrustedKeys } from '../../../src/node/features/fact-log/trusted-keys.ts';
import { verifyProofDocument } from '../../../src/node/features/fact-log/verify-proof.ts';
import { testDatabase } from '../../store/postgres-fixtures.ts';
import { fact } from '../../support/node-process.ts';
import type { TlsNode } from '../../support/tls-node.ts';
import { type Replicas, startReplicas } from './support.ts';

const database = testDatabase();
let replicas: Replicas;

before(async () => {
  replicas = await startReplicas(await database());
});
after(() => replicas?.close());

interface Proven {
  facts: { cid: string; chain_proof: { log_index: number } }[];
  chain_proof: { checkpoint: { tree_size: number; root_hash: string; public_key: string } };
}

async function recallFull(node: TlsNode): Promise<Proven> {
  const response = await request(new URL('/v1/recall', node.node.apiUrl), {
    method: 'POST',
    headers: {
      authorization: `Bearer ${node.identity.apiKey}`,
      'content-type': 'application/json',
      'stigmem-verify': 'full',
    },
    body: JSON.stringify({ query: 'replica', token_budget: 100_000 }),
  });
  const text = await response.body.text();
  assert.equal(response.statusCode, 200, text);
  return JSON.parse(text) as Proven;
}

test('both replicas prove against the same tree, at the same indexes, and both answers verify', async () => {
  const { a, b } = replicas;
  const writes = await Promise.all(
    Array.from({ length: 40 }, (_, i) => (i % 2 ? a : b).api('POST', '/v1/facts', fact(`test:replica/${i}`))),
  );
  for (const write of writes) assert.equal(write.status, 201, JSON.stringify(write.body));
  const [onA, onB] = await Promise.all([recallFull(a), recallFull(b)]);
  assert.equal(onA.facts.length, 40, 'every fact matches: "replica" is a term of its entity');
  assert.equal(onA.chain_proof.checkpoint.tree_size, 40);
  assert.equal(onB.chain_proof.checkpoint.tree_size, 40);
  assert.equal(onB.chain_proof.checkpoint.root_hash, onA.chain_proof.checkpoint.root_hash, 'one tree');
  const indexes = (answer: Proven) =>
    Object.fromEntries(answer.facts.map((f) => [f.cid, f.chain_proof.log_index]));
  assert.deepEqual(indexes(onB), indexes(onA));
  assert.deepEqual(
    Object.values(indexes(onA)).sort((x, y) => x - y),
    Array.from({ length: 40 }, (_, i) => i),
  );
  const keys: TrustedKeys = new Map();
  addTrustedKey(keys, a.entityUri, onA.chain_proof.checkpoint.public_key);
  for (const answer of [onA, onB]) {
    const verdict = verifyProofDocument(answer, { keys });
    assert.equal(verdict.ok, true, JSON.stringify(verdict.checks.filter((c) => c.status !== 'ok')));
    assert.ok(verdict.checks.every((c) => c.status === 'ok'));
  }
});
