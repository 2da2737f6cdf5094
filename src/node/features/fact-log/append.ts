// What the fact log appends for a fact, and the builder the store calls under its write lock. A leaf is the
// RFC 8785 canonical JSON of {cid, hlc, id, origin_node_id}: the bytes the origin signs (origin-signature.ts),
// all fixed once a fact is stored (a re-signature changes origin_sig only), so a leaf never changes. The CID
// covers the content, so the leaf binds content, id, origin and time.
import type { FactLogAppend, FactLogAppendState, FactLogNode } from '../../../store/ports/fact-log.ts';
import type { FactRecord } from '../../../store/ports/facts.ts';
import { originPayload } from '../facts/origin-signature.ts';
import { leafHash, nodeHash } from './merkle.ts';

export function factLeafHash(record: Pick<FactRecord, 'cid' | 'hlc' | 'id' | 'origin_node_id'>): string {
  return leafHash(originPayload(record));
}

/**
 * Appends every pending fact: each leaf, then, while the new node is a right child, its parent (the left
 * sibling is on the frontier or was completed earlier in this batch).
 */
export function buildFactLogAppend(state: FactLogAppendState): FactLogAppend {
  const known = new Map<string, string>();
  const key = (level: number, index: number) => `${level}:${index}`;
  for (const node of state.frontier) known.set(key(node.level, node.index), node.hash);
  const nodes: FactLogNode[] = [];
  const add = (node: FactLogNode) => {
    nodes.push(node);
    known.set(key(node.level, node.index), node.hash);
  };
  for (const [i, { record }] of state.pending.entries()) {
    let node: FactLogNode = { level: 0, index: state.size + i, hash: factLeafHash(record) };
    add(node);
    while (node.index % 2 === 1) {
      const left = known.get(key(node.level, node.index - 1));
      if (left === undefined) throw new Error(`fact log node (${node.level}, ${node.index - 1}) is unknown`);
      node = { level: node.level + 1, index: (node.index - 1) / 2, hash: nodeHash(left, node.hash) };
      add(node);
    }
  }
  return { leaves: state.pending.map(({ seq, record }) => ({ seq, cid: record.cid })), nodes };
}
