// Merkle tree hashing and inclusion proofs exactly as RFC 9162 (Certificate Transparency 2.0) §2.1 defines
// them, over SHA-256: leaf hash SHA-256(0x00 || leaf), interior node SHA-256(0x01 || left || right), the
// tree of n leaves split at the largest power of two below n, the empty tree's root SHA-256(""). Hashes are
// lower-case hex on the wire and in the store. Pure functions: the node builds and proves with them, and
// `tessera verify-proof` checks offline with them.
import { createHash } from 'node:crypto';
import type { FactLogPosition } from '../../../store/ports/fact-log.ts';

/** An inclusion proof has at most one hash per level of a tree of < 2^63 leaves. */
export const MAX_PROOF_LENGTH = 63;
export const HEX_HASH = /^[0-9a-f]{64}$/;

const LEAF_PREFIX = Buffer.from([0x00]);
const NODE_PREFIX = Buffer.from([0x01]);

/** MTH({}) = SHA-256 of the empty string: the root of an empty log. */
export const EMPTY_ROOT = createHash('sha256').digest('hex');

export function leafHash(leaf: Buffer): string {
  return createHash('sha256').update(LEAF_PREFIX).update(leaf).digest('hex');
}

export function nodeHash(left: string, right: string): string {
  return createHash('sha256')
    .update(NODE_PREFIX)
    .update(Buffer.from(left, 'hex'))
    .update(Buffer.from(right, 'hex'))
    .digest('hex');
}

/** The largest power of two strictly below n (n ≥ 2): RFC 9162's split point k. */
function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

const isPowerOfTwo = (n: number): boolean => n >= 1 && 2 ** Math.round(Math.log2(n)) === n;

/**
 * The stored (perfect) subtrees whose hashes give MTH(D[start:end]), left to right. Every range the RFC's
 * recursion visits from [0, n) starts at a multiple of its own largest power of two, so a range of
 * power-of-two length is one stored node and any other splits into two such ranges.
 */
export function subtreePositions(start: number, end: number): FactLogPosition[] {
  const span = end - start;
  if (span <= 0) throw new RangeError(`empty range [${start}, ${end})`);
  if (isPowerOfTwo(span)) return [{ level: Math.round(Math.log2(span)), index: start / span }];
  const k = splitPoint(span);
  return [...subtreePositions(start, start + k), ...subtreePositions(start + k, end)];
}

/** A node's hash by position: from the store, or a map of hashes read from it. */
export type NodeLookup = (position: FactLogPosition) => string;

/** MTH(D[start:end]) from stored perfect-subtree hashes (only the right edge of a tree is ever combined). */
export function subtreeHash(start: number, end: number, node: NodeLookup): string {
  const span = end - start;
  if (isPowerOfTwo(span)) return node({ level: Math.round(Math.log2(span)), index: start / span });
  const k = splitPoint(span);
  return nodeHash(subtreeHash(start, start + k, node), subtreeHash(start + k, end, node));
}

export function rootHash(size: number, node: NodeLookup): string {
  return size === 0 ? EMPTY_ROOT : subtreeHash(0, size, node);
}

/**
 * The ranges whose MTH form PATH(m, D[0:n]) (RFC 9162 §2.1.3.1), in proof order: the sibling nearest the
 * leaf first, the root's other child last.
 */
export function inclusionRanges(leafIndex: number, treeSize: number): [number, number][] {
  if (!(leafIndex >= 0 && leafIndex < treeSize))
    throw new RangeError(`leaf ${leafIndex} is not in a tree of ${treeSize}`);
  const ranges: [number, number][] = [];
  let start = 0;
  let end = treeSize;
  // Walk down from the root, remembering each sibling range; the proof lists them bottom-up.
  while (end - start > 1) {
    const k = splitPoint(end - start);
    if (leafIndex < start + k) {
      ranges.push([start + k, end]);
      end = start + k;
    } else {
      ranges.push([start, start + k]);
      start += k;
    }
  }
  return ranges.reverse();
}

/**
 * RFC 9162 §2.1.3.2: true when `proof` leads from `leaf` (a leaf hash) at `leafIndex` to `root` in a tree of
 * `treeSize` leaves. Arithmetic by division, not bit operators, so indexes above 2^31 stay exact.
 */
export function verifyInclusion(
  leaf: string,
  leafIndex: number,
  treeSize: number,
  proof: readonly string[],
  root: string,
): boolean {
  if (!Number.isSafeInteger(leafIndex) || !Number.isSafeInteger(treeSize)) return false;
  if (leafIndex < 0 || leafIndex >= treeSize || proof.length > MAX_PROOF_LENGTH) return false;
  if (![leaf, root, ...proof].every((hash) => HEX_HASH.test(hash))) return false;
  let fn = leafIndex;
  let sn = treeSize - 1;
  let r = leaf;
  const odd = (x: number) => x % 2 === 1;
  const half = (x: number) => Math.floor(x / 2);
  for (const p of proof) {
    if (sn === 0) return false;
    if (odd(fn) || fn === sn) {
      r = nodeHash(p, r);
      if (!odd(fn))
        while (!odd(fn) && fn !== 0) {
          fn = half(fn);
          sn = half(sn);
        }
    } else r = nodeHash(r, p);
    fn = half(fn);
    sn = half(sn);
  }
  return sn === 0 && r === root;
}
