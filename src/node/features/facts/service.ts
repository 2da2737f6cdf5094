// The facts domain: turns a client's assertion into a stored record (id, timestamp, HLC, CID) and takes in
// records replicated from peers. Content addressing makes both idempotent: the same content is stored once.
import { randomUUID } from 'node:crypto';
import type { FactRecord, FactStore, InsertResult } from '../../../store/ports/facts.ts';
import { NodeError } from '../../errors.ts';
import { factCid } from './cid.ts';
import type { HybridClock } from './hlc.ts';
import { parseFactInput, parseFactRecord } from './schema.ts';

export interface FactServiceOptions {
  store: FactStore;
  /** This node's entity URI: the origin_node_id of facts written here. */
  selfEntityUri: string;
  hlc: HybridClock;
  /** A peer's fact dated (HLC) further ahead of our wall clock than this is refused; default 60 s. */
  maxClockSkewMs?: number;
  now?: () => Date;
  newId?: () => string;
  /** Called after a local write (not a duplicate) has committed; the node wakes its peers with it. */
  onWrite?: (record: FactRecord) => void;
}

export interface AssertResult {
  record: FactRecord;
  /** false when a fact with the same content (CID) was already stored: `record` is that fact. */
  created: boolean;
}

export class FactService {
  readonly #store: FactStore;
  readonly #selfEntityUri: string;
  readonly #hlc: HybridClock;
  readonly #maxClockSkewMs: number;
  readonly #now: () => Date;
  readonly #newId: () => string;
  readonly #onWrite: ((record: FactRecord) => void) | undefined;

  constructor(options: FactServiceOptions) {
    this.#store = options.store;
    this.#selfEntityUri = options.selfEntityUri;
    this.#hlc = options.hlc;
    this.#maxClockSkewMs = options.maxClockSkewMs ?? 60_000;
    this.#now = options.now ?? (() => new Date());
    this.#newId = options.newId ?? randomUUID;
    this.#onWrite = options.onWrite;
  }

  /** Validates a POST /v1/facts body (NodeError 422 otherwise) and stores it as a fact of this node. */
  async assert(body: unknown): Promise<AssertResult> {
    const input = parseFactInput(body);
    const content = {
      entity: input.entity,
      relation: input.relation,
      value: input.value,
      source: input.source,
      confidence: input.confidence,
      scope: input.scope,
    };
    const record: FactRecord = {
      id: this.#newId(),
      ...content,
      // Client-given times are kept byte for byte (microseconds, offset): Stigmem clients compare them.
      timestamp: input.timestamp ?? this.#now().toISOString(),
      valid_until: input.valid_until ?? null,
      hlc: this.#hlc.now(),
      cid: factCid(content),
      attested: null,
      received_from: null,
      origin_node_id: this.#selfEntityUri,
    };
    const result = await this.#store.insertFact(record);
    if (result.inserted) this.#notify(result.record);
    return { record: result.record, created: result.inserted };
  }

  /**
   * Stores a record from `receivedFrom`'s federation feed inside the caller's transaction (the puller saves
   * its cursor in the same one). The record is validated in full and its CID recomputed (NodeError 422
   * `validation_failed` / `cid_mismatch` / `scope_not_federated` / `clock_skew`); id, hlc, timestamp and
   * origin_node_id are kept, received_from is set. onWrite is not called: the caller knows when it commits.
   */
  async ingest(tx: FactStore, remote: unknown, receivedFrom: string): Promise<InsertResult> {
    const record = parseFactRecord(remote);
    // `local` never leaves a node; a peer that sends one is broken or hostile, so it is not stored here.
    if (record.scope === 'local')
      throw new NodeError('scope_not_federated', `scope: a local fact (${record.cid}) was replicated`);
    // Checked before anything is stored, and the clock adopts the fact's HLC only once it is stored: a peer
    // cannot push this node's clock ahead (every later local write would carry that date).
    const skew = this.#hlc.aheadBy(record.hlc);
    if (skew > this.#maxClockSkewMs)
      throw new NodeError(
        'clock_skew',
        `hlc: ${record.hlc} is ${skew} ms ahead of this node's clock (limit ${this.#maxClockSkewMs} ms)`,
      );
    const result = await tx.insertFact({ ...record, received_from: receivedFrom });
    if (result.inserted) this.#hlc.observe(record.hlc);
    return result;
  }

  #notify(record: FactRecord): void {
    try {
      this.#onWrite?.(record);
    } catch {
      // The fact is committed; a failing listener (a wake-up hint) must not turn that into an error.
    }
  }
}
