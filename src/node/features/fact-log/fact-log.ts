// The node's fact log: keeps the Merkle tree caught up with the facts table, signs checkpoints and proves
// facts against them. The tree itself lives in the store (ports/fact-log.ts), so replicas of one node on one
// database share it; this service only appends (in batches, under the store's write lock) and reads.

import { MAX_FACT_LOG_CIDS, MAX_FACT_LOG_POSITIONS } from '../../../store/fact-log-shape.ts';
import type { FactLogHead, FactLogPosition, FactLogStore } from '../../../store/ports/fact-log.ts';
import type { FactRecord } from '../../../store/ports/facts.ts';
import type { NodeKey } from '../identity/node-key.ts';
import { buildFactLogAppend } from './append.ts';
import { type SignedCheckpoint, signCheckpoint } from './checkpoint.ts';
import { inclusionRanges, rootHash, subtreeHash, subtreePositions } from './merkle.ts';

/** Facts appended per write transaction: short enough not to hold back writers for long. */
export const FACT_LOG_BATCH = 500;

export interface FactLogOptions {
  store: FactLogStore;
  /** The log's name in checkpoints: the node's entity URI. */
  logId: string;
  nodeKey: () => NodeKey;
  now: () => Date;
  batch?: number;
}

/** Where one fact sits in the log, and the RFC 9162 audit path from it to the checkpoint's root. */
export interface InclusionProof {
  log_index: number;
  tree_size: number;
  inclusion_proof: string[];
}

export interface Proven {
  checkpoint: SignedCheckpoint;
  /** By CID. */
  proofs: Map<string, InclusionProof>;
}

export class FactLog {
  readonly #options: FactLogOptions;
  #running: Promise<FactLogHead> | null = null;
  #queued: Promise<FactLogHead> | null = null;

  constructor(options: FactLogOptions) {
    this.#options = options;
  }

  /**
   * Appends every fact stored before this call (and maybe later ones). Calls coalesce: one made while an
   * append runs waits for one more run after it (the running one may have read the head before the caller's
   * facts were stored), shared by every caller in the meantime.
   */
  sync(): Promise<FactLogHead> {
    if (this.#queued) return this.#queued;
    if (!this.#running) return this.#start();
    const queued = this.#running
      .catch(() => undefined)
      .then(() => {
        this.#queued = null;
        return this.#start();
      });
    this.#queued = queued;
    return queued;
  }

  /** Resolves when no append of this service is running or queued (errors are the callers' to see). */
  async idle(): Promise<void> {
    while (this.#running || this.#queued) await (this.#queued ?? this.#running)?.catch(() => undefined);
  }

  #start(): Promise<FactLogHead> {
    const run = this.#catchUp().finally(() => {
      if (this.#running === run) this.#running = null;
    });
    this.#running = run;
    return run;
  }

  async #catchUp(): Promise<FactLogHead> {
    const { store } = this.#options;
    let head = await store.factLogHead();
    const target = head.storedSeq;
    // Up to what was stored when the run began: a stream of new writes cannot keep one run going for ever.
    while (head.lastSeq < target) {
      const before = head.size;
      head = await store.appendFactLog(this.#options.batch ?? FACT_LOG_BATCH, buildFactLogAppend);
      if (head.size === before) break;
    }
    return head;
  }

  /**
   * Catches the log up, signs a checkpoint of it with the current node key, and proves each record against
   * it. Every record must be a stored fact read before this call (it is then in the log).
   */
  async prove(records: readonly FactRecord[]): Promise<Proven> {
    const head = await this.sync();
    const size = head.size;
    const indexes = await this.#indexes(records.map((r) => r.cid));
    const ranges = new Map<string, [number, number][]>();
    for (const record of records) {
      const index = indexes.get(record.cid);
      if (index === undefined || index >= size)
        throw new Error(`fact ${record.cid} is not in the fact log of ${size} facts`);
      ranges.set(record.cid, inclusionRanges(index, size));
    }
    const roots = size === 0 ? [] : subtreePositions(0, size);
    const wanted = [...roots, ...[...ranges.values()].flat().flatMap(([a, b]) => subtreePositions(a, b))];
    const node = await this.#nodes(wanted);
    const checkpoint = signCheckpoint(
      {
        logId: this.#options.logId,
        treeSize: size,
        rootHash: rootHash(size, node),
        timestamp: this.#options.now(),
      },
      this.#options.nodeKey(),
    );
    const proofs = new Map<string, InclusionProof>();
    for (const [cid, path] of ranges)
      proofs.set(cid, {
        log_index: indexes.get(cid)!,
        tree_size: size,
        inclusion_proof: path.map(([a, b]) => subtreeHash(a, b, node)),
      });
    return { checkpoint, proofs };
  }

  async #indexes(cids: string[]): Promise<Map<string, number>> {
    const found = new Map<string, number>();
    for (let i = 0; i < cids.length; i += MAX_FACT_LOG_CIDS)
      for (const [cid, index] of await this.#options.store.factLogIndexes(
        cids.slice(i, i + MAX_FACT_LOG_CIDS),
      ))
        found.set(cid, index);
    return found;
  }

  /** Reads the stored hashes at `positions` (each once) and returns a lookup over them. */
  async #nodes(positions: FactLogPosition[]): Promise<(position: FactLogPosition) => string> {
    const key = (p: FactLogPosition) => `${p.level}:${p.index}`;
    const unique = [...new Map(positions.map((p) => [key(p), p])).values()];
    const hashes = new Map<string, string>();
    for (let i = 0; i < unique.length; i += MAX_FACT_LOG_POSITIONS) {
      const chunk = unique.slice(i, i + MAX_FACT_LOG_POSITIONS);
      const found = await this.#options.store.factLogNodes(chunk);
      chunk.forEach((p, j) => {
        const hash = found[j];
        if (hash === null || hash === undefined)
          throw new Error(`fact log node (${p.level}, ${p.index}) is missing: the log is damaged`);
        hashes.set(key(p), hash);
      });
    }
    return (p) => hashes.get(key(p))!;
  }
}
