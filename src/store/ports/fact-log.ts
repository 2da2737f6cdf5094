// The node's append-only fact log: a Merkle tree (RFC 9162 shape) over every stored fact in local insertion
// order (facts.seq), each fact at a dense log index from 0. The tree's node hashes are kept as they are
// completed, so a root or an inclusion proof reads O(log n) stored hashes and nothing is ever rehashed.
// The store does not know the hash function: it keeps the log's shape (each fact once, in seq order, at
// the next index; exactly the nodes an append completes) and stores hashes as built (see fact-log-shape.ts).
import type { FactRecord } from './facts.ts';

/** A node of the tree: level 0 are the leaves; node (level, index) covers leaves [index·2^level, (index+1)·2^level). */
export interface FactLogPosition {
  level: number;
  index: number;
}

export interface FactLogNode extends FactLogPosition {
  /** Lower-case hex SHA-256. */
  hash: string;
}

export interface FactLogHead {
  /** Leaves in the log (the tree size). */
  size: number;
  /** seq of the last fact logged; 0 when the log is empty. */
  lastSeq: number;
  /** The largest seq of any stored fact (0 without facts): facts after lastSeq are not logged yet. */
  storedSeq: number;
}

/** A stored fact not yet in the log, with its local insertion position. */
export interface FactLogPending {
  seq: number;
  record: FactRecord;
}

/** What an append reads before it builds: the head, the facts to append, and the tree's right edge. */
export interface FactLogAppendState {
  size: number;
  lastSeq: number;
  /** The next stored facts after lastSeq, in seq order (never empty: no build without one). */
  pending: FactLogPending[];
  /** The perfect subtrees covering leaves [0, size), largest (leftmost) first: what new nodes combine with. */
  frontier: FactLogNode[];
}

export interface FactLogAppend {
  /** The pending facts appended, in order, at indexes size, size + 1, …: a prefix of `pending`. */
  leaves: { seq: number; cid: string }[];
  /** Every node the append completes (leaf hashes included), in any order. */
  nodes: FactLogNode[];
}

export interface FactLogStore {
  factLogHead(): Promise<FactLogHead>;
  /**
   * Appends atomically, under the store's write lock: reads the head, up to `limit` facts after it and the
   * frontier, hands them to `build` and stores what it returns after checking its shape (StoreInputError
   * `invalid_record` otherwise, nothing stored). Without pending facts `build` is not called. Returns the
   * new head. Replicas of one node appending at once extend one log: the second finds the work done.
   */
  appendFactLog(limit: number, build: (state: FactLogAppendState) => FactLogAppend): Promise<FactLogHead>;
  /** The stored hashes at `positions`, in the same order (null where no node is stored). At most 4096. */
  factLogNodes(positions: readonly FactLogPosition[]): Promise<(string | null)[]>;
  /** The log index of each CID given that is logged (absent from the map otherwise). At most 1000 CIDs. */
  factLogIndexes(cids: readonly string[]): Promise<Map<string, number>>;
}
