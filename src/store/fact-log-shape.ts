// The shape of the fact log's Merkle tree, whatever the database: which nodes a tree of n leaves has on its
// right edge, which nodes an append completes, and the check every store runs on an append before it writes
// anything. Positions only; the hashing is the node's (node/features/fact-log/merkle.ts).
import { StoreInputError } from './errors.ts';
import type { FactLogAppend, FactLogAppendState, FactLogPosition } from './ports/fact-log.ts';

/** Lists of positions read at once are bounded (a proof needs about 2·log2(n) of them). */
export const MAX_FACT_LOG_POSITIONS = 4096;
export const MAX_FACT_LOG_CIDS = 1000;

const HEX_HASH = /^[0-9a-f]{64}$/;

/**
 * The perfect subtrees covering leaves [0, size), largest (leftmost) first: one per bit set in `size`.
 * Their hashes are all an append needs, and folded right to left they give the root.
 */
export function frontierPositions(size: number): FactLogPosition[] {
  const positions: FactLogPosition[] = [];
  for (let level = 0, span = 1; span <= size; level++, span *= 2)
    if (Math.floor(size / span) % 2 === 1) positions.push({ level, index: Math.floor(size / span) - 1 });
  return positions.reverse();
}

/**
 * The nodes that appending leaves [start, end) completes: at each level, the nodes whose last leaf falls in
 * [start, end). Level 0 are the new leaves themselves.
 */
export function completedPositions(start: number, end: number): FactLogPosition[] {
  const positions: FactLogPosition[] = [];
  for (let level = 0, span = 1; span <= end; level++, span *= 2) {
    const last = Math.floor(end / span);
    for (let index = Math.floor(start / span); index < last; index++) positions.push({ level, index });
  }
  return positions;
}

/** A position a store may be asked for: level 0..62, a non-negative safe integer index. */
export function validPosition(position: FactLogPosition): boolean {
  const { level, index } = position;
  return Number.isSafeInteger(level) && level >= 0 && level < 63 && Number.isSafeInteger(index) && index >= 0;
}

/** Bounds on the lists a caller may read at once. */
export function checkPositions(positions: readonly FactLogPosition[]): void {
  if (positions.length > MAX_FACT_LOG_POSITIONS)
    throw new StoreInputError(
      'invalid_limit',
      `at most ${MAX_FACT_LOG_POSITIONS} fact log positions at once`,
    );
  if (!positions.every(validPosition))
    throw new StoreInputError('invalid_record', 'a fact log position is not a level 0..62 and an index ≥ 0');
}

export function checkCids(cids: readonly string[]): void {
  if (cids.length > MAX_FACT_LOG_CIDS)
    throw new StoreInputError('invalid_limit', `at most ${MAX_FACT_LOG_CIDS} CIDs at once`);
}

/** Why `append` cannot extend the log in `state`, or null when it can. */
export function factLogAppendProblem(append: unknown, state: FactLogAppendState): string | null {
  if (typeof append !== 'object' || append === null) return 'the builder returned no append';
  const { leaves, nodes } = append as Partial<FactLogAppend>;
  if (!Array.isArray(leaves) || !Array.isArray(nodes)) return 'leaves and nodes must be arrays';
  if (leaves.length === 0) return 'an append needs at least one leaf';
  if (leaves.length > state.pending.length) return 'more leaves than pending facts';
  for (const [i, leaf] of leaves.entries()) {
    const pending = state.pending[i]!;
    // Each fact once, in seq order, none skipped: the log index is the fact's rank in insertion order.
    if (leaf?.seq !== pending.seq || leaf.cid !== pending.record.cid)
      return `leaf ${state.size + i} is not the next stored fact (seq ${pending.seq})`;
  }
  const expected = completedPositions(state.size, state.size + leaves.length);
  if (nodes.length !== expected.length)
    return `the append completes ${expected.length} nodes, the builder gave ${nodes.length}`;
  const given = new Set<string>();
  for (const node of nodes) {
    if (typeof node?.hash !== 'string' || !HEX_HASH.test(node.hash))
      return 'a node hash is not 64 lower-case hex digits';
    given.add(`${node.level}:${node.index}`);
  }
  for (const { level, index } of expected)
    if (!given.has(`${level}:${index}`)) return `node (${level}, ${index}) is missing`;
  return null;
}
