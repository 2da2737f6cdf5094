// The facts domain: turns a client's assertion into a stored, origin-signed record (CID, id derived from
// it, timestamp, HLC) and takes in records replicated from peers. Content addressing makes both idempotent:
// the same content is stored once, and an id can only ever name one content.
import { StoreInputError } from '../../../store/errors.ts';
import type { FactRecord, FactStore, InsertResult } from '../../../store/ports/facts.ts';
import type { StoreOps } from '../../../store/store.ts';
import { NodeError } from '../../errors.ts';
import { depthOf } from '../../strict-json.ts';
import type { NodeKey } from '../identity/node-key.ts';
import { factCid } from './cid.ts';
import { checkFactId, factId } from './fact-id.ts';
import type { HybridClock } from './hlc.ts';
import { signOrigin } from './origin-signature.ts';
import { parseFactInput, parseFactRecord } from './schema.ts';

/** Bounds on a peer's `attested` (signatures, chains: stored as given, so bounded like any payload). */
export interface AttestedLimits {
  maxBytes: number;
  maxDepth: number;
}

export const DEFAULT_ATTESTED_LIMITS: AttestedLimits = { maxBytes: 16 * 1024, maxDepth: 8 };

export interface FactServiceOptions {
  store: FactStore;
  /** This node's entity URI: the origin_node_id of facts written here. */
  selfEntityUri: string;
  hlc: HybridClock;
  /** The node key facts written here are signed with (the current one of the ring). */
  nodeKey: () => NodeKey;
  /** A peer's fact dated (HLC) further ahead of our wall clock than this is refused; default 60 s. */
  maxClockSkewMs?: number;
  attested?: AttestedLimits;
  now?: () => Date;
  /**
   * Set when replicas of this node share the store: runs fn in one transaction that holds the store's write
   * lock, so a local write is stamped above every HLC any replica stored (read inside it) and no two
   * replicas ever stamp the same HLC. Unset (one writer, SQLite): the in-memory clock alone suffices.
   */
  serialize?: <T>(fn: (tx: StoreOps) => Promise<T>) => Promise<T>;
  /**
   * Runs fn in one transaction of the store: what assert() uses when the caller has work to commit with a
   * new fact (its audit entry). Unset: such work runs after the fact's own commit.
   */
  transaction?: <T>(fn: (tx: StoreOps) => Promise<T>) => Promise<T>;
  /** Called after a local write (not a duplicate) has committed; the node wakes its peers with it. */
  onWrite?: (record: FactRecord) => void;
}

export interface AssertOptions {
  /** A body without `source` gets this (the caller's entity URI); without either it is refused. */
  source?: string | undefined;
  /**
   * Called with a newly created fact inside the transaction that stores it (not for a duplicate): what it
   * writes commits with the fact or not at all, and a failure undoes the fact.
   */
  whenCreated?: (tx: StoreOps, record: FactRecord) => Promise<unknown>;
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
  readonly #attested: AttestedLimits;
  readonly #nodeKey: () => NodeKey;
  readonly #now: () => Date;
  readonly #onWrite: ((record: FactRecord) => void) | undefined;
  readonly #serialize: FactServiceOptions['serialize'];
  readonly #transaction: FactServiceOptions['transaction'];

  constructor(options: FactServiceOptions) {
    this.#store = options.store;
    this.#selfEntityUri = options.selfEntityUri;
    this.#hlc = options.hlc;
    this.#maxClockSkewMs = options.maxClockSkewMs ?? 60_000;
    this.#attested = options.attested ?? DEFAULT_ATTESTED_LIMITS;
    this.#nodeKey = options.nodeKey;
    this.#now = options.now ?? (() => new Date());
    this.#onWrite = options.onWrite;
    this.#serialize = options.serialize;
    this.#transaction = options.transaction;
  }

  /**
   * Validates a POST /v1/facts body (NodeError 422 otherwise) and stores it as a fact of this node, with
   * whatever `whenCreated` writes in the same transaction.
   */
  async assert(body: unknown, options: AssertOptions = {}): Promise<AssertResult> {
    const input = parseFactInput(body);
    const source = input.source ?? options.source;
    if (source === undefined) throw new NodeError('validation_failed', 'source: is required');
    const content = {
      entity: input.entity,
      relation: input.relation,
      value: input.value,
      source,
      confidence: input.confidence,
      scope: input.scope,
    };
    const cid = factCid(content);
    // Stamped (HLC, signature) right before the insert, inside the same locked transaction when shared.
    const stamped = (): FactRecord => {
      const signed = { id: factId(cid), cid, hlc: this.#hlc.now(), origin_node_id: this.#selfEntityUri };
      return {
        ...content,
        ...signed,
        // Client-given times are kept byte for byte (microseconds, offset): Stigmem clients compare them.
        timestamp: input.timestamp ?? this.#now().toISOString(),
        valid_until: input.valid_until ?? null,
        attested: null,
        received_from: null,
        origin_sig: signOrigin(signed, this.#nodeKey()),
      };
    };
    const { whenCreated } = options;
    if (whenCreated && !this.#serialize && !this.#transaction)
      throw new TypeError(
        'assert() with whenCreated needs a store transaction (FactServiceOptions.transaction)',
      );
    // The fact and what whenCreated writes: one transaction.
    const insert = async (tx: StoreOps) => {
      const inserted = await insertOrConflict(tx, stamped());
      if (inserted.inserted && whenCreated) await whenCreated(tx, inserted.record);
      return inserted;
    };
    const result = this.#serialize
      ? await this.#serialize(async (tx) => {
          const stored = await tx.maxHlc();
          if (stored !== null) this.#hlc.raiseTo(stored);
          return insert(tx);
        })
      : whenCreated
        ? await this.#transaction!(insert)
        : await insertOrConflict(this.#store, stamped());
    if (result.inserted) this.#notify(result.record);
    return { record: result.record, created: result.inserted };
  }

  /**
   * Checks a record from a peer's federation feed on its own (NodeError 422 otherwise): the schema, the CID
   * recomputed (`cid_mismatch`), the id derived from it (`id_conflict`), the scope (`scope_not_federated`),
   * the HLC against our wall clock (`clock_skew`) and the `attested` bounds. The origin signature is the
   * federation's to verify (it needs the origin's keys). Nothing is stored.
   */
  checkRemote(remote: unknown): FactRecord {
    const record = parseFactRecord(remote);
    checkFactId(record);
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
    this.#checkAttested(record.attested);
    return record;
  }

  /**
   * Stores a checked (and origin-verified) record from `receivedFrom` inside the caller's transaction (the
   * puller saves its cursor in the same one); received_from is set, everything else kept. A copy we already
   * hold takes the verified signature when ours has none, or when it was made with the origin's current key
   * (`proof.currentKey`) and ours was not, so what we serve on stays verifiable after the origin rotates. onWrite is not called: the caller knows when it commits.
   */
  async storeRemote(
    tx: FactStore,
    record: FactRecord,
    receivedFrom: string,
    proof: { currentKey: boolean } = { currentKey: false },
  ): Promise<InsertResult> {
    const result = await insertOrConflict(tx, { ...record, received_from: receivedFrom });
    if (result.inserted) this.#hlc.observe(record.hlc);
    else if (
      record.origin_sig &&
      sameOriginFact(result.record, record) &&
      (result.record.origin_sig === null || (proof.currentKey && !sameSignature(result.record, record)))
    )
      await tx.setOriginSignature(record.cid, record.origin_sig);
    return result;
  }

  #checkAttested(attested: unknown): void {
    if (attested === null) return;
    const { maxBytes, maxDepth } = this.#attested;
    if (depthOf(attested, maxDepth) > maxDepth)
      throw new NodeError('validation_failed', `record.attested: must nest at most ${maxDepth} levels`);
    const bytes = Buffer.byteLength(JSON.stringify(attested));
    if (bytes > maxBytes)
      throw new NodeError(
        'validation_failed',
        `record.attested: must be at most ${maxBytes} bytes as JSON (got ${bytes})`,
      );
  }

  #notify(record: FactRecord): void {
    try {
      this.#onWrite?.(record);
    } catch {
      // The fact is committed; a failing listener (a wake-up hint) must not turn that into an error.
    }
  }
}

/** insertFact, with the store's id conflict as the node's `id_conflict` (409 on the API). */
async function insertOrConflict(store: FactStore, record: FactRecord): Promise<InsertResult> {
  try {
    return await store.insertFact(record);
  } catch (error) {
    if (error instanceof StoreInputError && error.code === 'id_conflict')
      throw new NodeError('id_conflict', error.message, {}, { cause: error });
    throw error;
  }
}

/** The same fact as the origin wrote it (not the same content written independently at another node). */
function sameOriginFact(a: FactRecord, b: FactRecord): boolean {
  return a.id === b.id && a.origin_node_id === b.origin_node_id && a.hlc === b.hlc;
}

function sameSignature(a: FactRecord, b: FactRecord): boolean {
  return a.origin_sig?.kid === b.origin_sig?.kid && a.origin_sig?.sig === b.origin_sig?.sig;
}
