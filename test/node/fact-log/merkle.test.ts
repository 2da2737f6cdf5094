// RFC 9162 hashing and inclusion proofs: the Certificate Transparency test vectors (the same hashes as
// RFC 6962), proofs built from stored perfect subtrees equal to the RFC's recursive definition for every
// leaf of every tree up to 40 leaves, and the verifier refusing any altered proof.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  EMPTY_ROOT,
  inclusionRanges,
  leafHash,
  nodeHash,
  rootHash,
  subtreeHash,
  verifyInclusion,
} from '../../../src/node/features/fact-log/merkle.ts';
import { completedPositions, frontierPositions } from '../../../src/store/fact-log-shape.ts';
import type { FactLogPosition } from '../../../src/store/ports/fact-log.ts';

// The leaves and roots of the CT reference tests (certificate-transparency, merkle tree test data).
const CT_LEAVES = [
  '',
  '00',
  '10',
  '2021',
  '3031',
  '40414243',
  '5051525354555657',
  '606162636465666768696a6b6c6d6e6f',
];
const CT_ROOTS = [
  '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
  'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
  'aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77',
  'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
  '4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4',
  '76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef',
  'ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c',
  '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328',
];
const CT_PATH_0_OF_8 = [
  '96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7',
  '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
  '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4',
];

/** MTH by the RFC's recursive definition, from the leaf hashes: the reference the stored tree must equal. */
function mth(leaves: string[]): string {
  if (leaves.length === 0) return EMPTY_ROOT;
  if (leaves.length === 1) return leaves[0]!;
  let k = 1;
  while (k * 2 < leaves.length) k *= 2;
  return nodeHash(mth(leaves.slice(0, k)), mth(leaves.slice(k)));
}

/** PATH(m, D[n]) by the RFC's recursive definition (§2.1.3.1). */
function path(m: number, leaves: string[]): string[] {
  if (leaves.length <= 1) return [];
  let k = 1;
  while (k * 2 < leaves.length) k *= 2;
  return m < k
    ? [...path(m, leaves.slice(0, k)), mth(leaves.slice(k))]
    : [...path(m - k, leaves.slice(k)), mth(leaves.slice(0, k))];
}

/** The stored nodes of a tree of these leaves, built append by append as the store keeps them. */
function storedNodes(leaves: string[]): (p: FactLogPosition) => string {
  const nodes = new Map<string, string>();
  for (let end = 1; end <= leaves.length; end++)
    for (const { level, index } of completedPositions(end - 1, end))
      nodes.set(`${level}:${index}`, mth(leaves.slice(index * 2 ** level, (index + 1) * 2 ** level)));
  return ({ level, index }) => {
    const hash = nodes.get(`${level}:${index}`);
    assert.ok(hash, `node (${level}, ${index}) is stored`);
    return hash;
  };
}

const leafHashes = (n: number) => Array.from({ length: n }, (_, i) => leafHash(Buffer.from(`leaf ${i}`)));

test('the CT reference vectors: leaf and node hashing, roots of 1..8 leaves, the path of leaf 0 in 8', () => {
  const leaves = CT_LEAVES.map((hex) => leafHash(Buffer.from(hex, 'hex')));
  assert.equal(EMPTY_ROOT, 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  for (let n = 1; n <= 8; n++)
    assert.equal(rootHash(n, storedNodes(leaves.slice(0, n))), CT_ROOTS[n - 1], `root of ${n}`);
  const node = storedNodes(leaves);
  assert.deepEqual(
    inclusionRanges(0, 8).map(([a, b]) => subtreeHash(a, b, node)),
    CT_PATH_0_OF_8,
  );
  assert.ok(verifyInclusion(leaves[0]!, 0, 8, CT_PATH_0_OF_8, CT_ROOTS[7]!));
});

test('every leaf of every tree up to 40 leaves: the stored-node proof is the RFC path and verifies', () => {
  const all = leafHashes(40);
  for (let n = 1; n <= 40; n++) {
    const leaves = all.slice(0, n);
    const node = storedNodes(leaves);
    const root = rootHash(n, node);
    assert.equal(root, mth(leaves), `root of ${n}`);
    for (let m = 0; m < n; m++) {
      const proof = inclusionRanges(m, n).map(([a, b]) => subtreeHash(a, b, node));
      assert.deepEqual(proof, path(m, leaves), `path of ${m} in ${n}`);
      assert.ok(verifyInclusion(leaves[m]!, m, n, proof, root), `${m} in ${n} verifies`);
    }
  }
});

test('the verifier refuses a proof with any hash altered, dropped or added, at another index or size', () => {
  const leaves = leafHashes(13);
  const node = storedNodes(leaves);
  const root = rootHash(13, node);
  const proof = inclusionRanges(5, 13).map(([a, b]) => subtreeHash(a, b, node));
  assert.ok(verifyInclusion(leaves[5]!, 5, 13, proof, root));
  proof.forEach((_, i) => {
    const altered = [...proof];
    altered[i] = leafHash(Buffer.from('other'));
    assert.equal(verifyInclusion(leaves[5]!, 5, 13, altered, root), false, `hash ${i} altered`);
  });
  assert.equal(verifyInclusion(leaves[5]!, 5, 13, proof.slice(1), root), false, 'one dropped');
  assert.equal(verifyInclusion(leaves[5]!, 5, 13, [...proof, proof[0]!], root), false, 'one added');
  assert.equal(verifyInclusion(leaves[5]!, 4, 13, proof, root), false, 'another index');
  // The size is bound by the signed checkpoint; the proof alone only fixes the tree's shape.
  assert.equal(verifyInclusion(leaves[5]!, 5, 8, proof, root), false, 'a size of another shape');
  assert.equal(verifyInclusion(leaves[6]!, 5, 13, proof, root), false, 'another leaf');
  assert.equal(verifyInclusion(leaves[5]!, 13, 13, proof, root), false, 'index past the tree');
  assert.equal(verifyInclusion(leaves[5]!, 5, 13, proof, root.toUpperCase()), false, 'not lower-case hex');
});

test('frontier: one perfect subtree per bit of the size, largest first; they fold into the root', () => {
  assert.deepEqual(frontierPositions(0), []);
  assert.deepEqual(frontierPositions(1), [{ level: 0, index: 0 }]);
  assert.deepEqual(frontierPositions(6), [
    { level: 2, index: 0 },
    { level: 1, index: 2 },
  ]);
  assert.deepEqual(frontierPositions(7), [
    { level: 2, index: 0 },
    { level: 1, index: 2 },
    { level: 0, index: 6 },
  ]);
  const leaves = leafHashes(23);
  const node = storedNodes(leaves);
  const folded = frontierPositions(23)
    .map(node)
    .reduceRight((right, left) => nodeHash(left, right));
  assert.equal(folded, mth(leaves));
});

test('an append completes the new leaves and every parent whose last leaf is among them', () => {
  assert.deepEqual(completedPositions(0, 1), [{ level: 0, index: 0 }]);
  assert.deepEqual(completedPositions(7, 8), [
    { level: 0, index: 7 },
    { level: 1, index: 3 },
    { level: 2, index: 1 },
    { level: 3, index: 0 },
  ]);
  assert.deepEqual(completedPositions(2, 5), [
    { level: 0, index: 2 },
    { level: 0, index: 3 },
    { level: 0, index: 4 },
    { level: 1, index: 1 },
    { level: 2, index: 0 },
  ]);
});
