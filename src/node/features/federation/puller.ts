// Replication: for every approved peer, drain its federation feed page by page, ingesting each page and
// saving the cursor in the same transaction (a crash loses nothing and duplicates nothing). Cycles run
// every interval, at once on a wake from the peer, and back off exponentially with jitter on errors.
// One cycle per peer at a time: a wake during a cycle makes that cycle run once more. Across replicas of
// the node (one shared store), a cycle runs only under the peer's lease (Store.lease): one puller per peer.

import { type FactRecord, FEDERATION_REMAINING_CAP } from '../../../store/ports/facts.ts';
import type { PeerRecord } from '../../../store/ports/peers.ts';
import type { Store, StoreOps } from '../../../store/store.ts';
import { createLogSampler } from '../../../tls/log-sampler.ts';
import type { Logger } from '../../../tls/logger.ts';
import { NodeError } from '../../errors.ts';
import type { NodeMetrics } from '../../metrics.ts';
import type { PeerDirectory } from '../peers/peer-directory.ts';
import type { FederationClient } from './client.ts';
import type { OriginProof, OriginVerifier } from './origin-verifier.ts';
import type { FeedSubscription } from './peer-transport.ts';

export interface FederationFeedPage {
  facts: FactRecord[];
  cursor: string;
  more: boolean;
  /** Facts still waiting after this page, counted up to FEDERATION_REMAINING_CAP (older peers omit it). */
  remaining?: number;
}

/** What the puller needs of the facts service: check a record alone, then store it in a transaction. */
export interface Ingestor {
  checkRemote(record: unknown): FactRecord;
  storeRemote(
    tx: StoreOps,
    record: FactRecord,
    receivedFrom: string,
    proof: OriginProof,
  ): Promise<{ inserted: boolean }>;
}

export interface PullerOptions {
  metrics: NodeMetrics;
  store: Store;
  facts: Ingestor;
  /** Proves each fact's origin signature (NodeError origin_unverified otherwise). */
  origins: Pick<OriginVerifier, 'verify'>;
  peers: PeerDirectory;
  client: FederationClient;
  intervalMs: number;
  pageSize?: number;
  /** Longest wait after repeated errors; default 10 × interval, at most 15 minutes. */
  maxBackoffMs?: number;
  logger: Logger;
  /** Runs after each complete facts cycle (capability revocations, manifest refresh); its errors are logged only. */
  afterCycle?: (peer: PeerRecord) => Promise<void>;
  /** This node's entity URI: facts claiming to originate here are refused. */
  selfEntityUri: string;
  random?: () => number;
  /** At most this many pages per cycle; with more waiting, the next cycle comes after the interval. */
  maxPagesPerCycle?: number;
  /** A cycle that has run this long ends after its current page (same as the page cap). */
  maxCycleMs?: number;
  /** Milliseconds now (the cycle time cap); default Date.now. */
  now?: () => number;
  /** A peer became degraded (stalled cursor, refused facts) or recovered (reason null). */
  onHealth?(peer: PeerRecord, reason: string | null): void;
  /** The peer's clock skew as last measured (ms, positive = ahead of ours), to explain certificate-time refusals. */
  peerSkewMs?(entityUri: string): number | undefined;
  /** Facts from a peer were stored (a re-forwarding node's streams push them on). */
  onIngested?(count: number): void;
  /** A live stream from a peer opened (+1) or closed (-1). */
  onStream?(delta: 1 | -1): void;
}

/** How replication from one peer is going, for `tessera peers list` and the status page. Times are ms. */
export interface PeerReplication {
  /** Why the last cycle was not clean (e.g. `cursor_stalled`, `facts_refused:clock_skew`); null when healthy. */
  degraded: string | null;
  /** Failed or unclean cycles in a row (the backoff grows with it). */
  failures: number;
  /** When a cycle last ended cleanly (drained or at its cap); null before the first. */
  lastSuccessAt: number | null;
  /** Why the last failed cycle failed (kept after a recovery, with its time); null when none failed yet. */
  lastError: { reason: string; detail: string; at: number } | null;
  /** When the next cycle is due (after the interval, or the backoff after failures); null while one runs. */
  nextPullAt: number | null;
  /** Facts the peer said were still waiting after our last page (0 once drained); null when not known. */
  factsBehind: number | null;
}

/** Longest error detail kept for the status page: a peer's error text is not ours to store in full. */
const MAX_ERROR_DETAIL = 300;

/** The short reason a cycle failed: the misbehaviour, the transport's cause, or the error code. */
function failureReason(error: unknown): string {
  if (error instanceof PeerMisbehaved) return error.reason;
  if (error instanceof NodeError) {
    const cause = error.extra.peer_error;
    return typeof cause === 'string' ? `${error.code}:${cause}` : error.code;
  }
  return 'error';
}

/** What the page says is still waiting: nothing when drained; the peer's bounded count, if it sent a sane one. */
function factsBehind(page: FederationFeedPage): number | null {
  if (!page.more) return 0;
  const { remaining } = page;
  return Number.isSafeInteger(remaining) && (remaining as number) >= 0
    ? Math.min(remaining as number, FEDERATION_REMAINING_CAP)
    : null;
}

/** The failure reason of a pull the peer refused because it has not approved this node (yet). */
const PEER_DOES_NOT_KNOW_US = 'peer_call_failed:peer_not_approved';

/** A cycle that ended because the peer misbehaved: counted as a failure (backoff) with this reason. */
class PeerMisbehaved extends Error {
  constructor(
    readonly reason: string,
    detail: string,
  ) {
    super(detail);
  }
}

interface PeerState {
  timer: NodeJS.Timeout | undefined;
  running: Promise<void> | undefined;
  again: boolean;
  /** The last cycle failed, or hit its cap storing nothing: wakes wait for the scheduled cycle (backoff or interval). */
  held: boolean;
  /** The last cycle failed because the peer does not know us yet: its next wake means it approved us since. */
  unknownToPeer: boolean;
  failures: number;
  degraded: string | null;
  lastSuccessAt: number | null;
  lastError: PeerReplication['lastError'];
  nextPullAt: number | null;
  factsBehind: number | null;
  /** The live stream from this peer, while one is open. */
  subscription: FeedSubscription | undefined;
  /** Resolves once the open stream has delivered everything the peer had (its first page without `more`). */
  caughtUp: Promise<void> | undefined;
  /** The last run was a stream that delivered pages and then broke: reconnect soon, not after the interval. */
  streamBroke: boolean;
  /** The last run pulled pages because the peer's stream was unavailable: try it again after this (ms). */
  streamRetryMs: number | undefined;
  /** A live stream's end-work (revocations, manifest refresh) in progress, and whether to run it again. */
  afterRunning: Promise<void> | undefined;
  afterAgain: boolean;
}

export const FEED_PAGE_SIZE = 500;

export class Puller {
  readonly #states = new Map<string, PeerState>();
  readonly #sampleLog = createLogSampler();
  #stopped = false;

  constructor(private readonly options: PullerOptions) {}

  start(): void {
    for (const peer of this.options.peers.approved()) this.#schedule(peer.id, 0);
  }

  /**
   * Pull from this peer now (a wake, an approval), unless its last cycle failed or hit its cap: then the
   * cycle already scheduled (backoff or interval) comes first, so a peer cannot wake itself past either.
   * One exception: when the peer refused us as not approved, its wake (an approved peer's, authenticated)
   * says it approved us since, as a node does at approval; one such wake lifts the hold, so replication
   * starts at once whichever side approved first.
   */
  wake(peerId: string): void {
    const state = this.#states.get(peerId);
    if (this.#stopped) return;
    if (state?.held) {
      if (!state.unknownToPeer) return;
      state.unknownToPeer = false;
    }
    this.#schedule(peerId, 0);
  }

  /** Runs one complete cycle now and resolves when it ends (used by tests and the demo). */
  async pullNow(peerId: string): Promise<void> {
    const state = this.#state(peerId);
    // A live stream pulls all the time: "now" is once it has caught up.
    if (state.subscription) {
      await state.caughtUp;
      return;
    }
    if (state.running) {
      state.again = true;
      await state.running;
      return;
    }
    await this.#run(peerId);
  }

  /** How replication from this peer is going (healthy when it was never pulled). */
  health(peerId: string): PeerReplication {
    const state = this.#states.get(peerId);
    return {
      degraded: state?.degraded ?? null,
      failures: state?.failures ?? 0,
      lastSuccessAt: state?.lastSuccessAt ?? null,
      lastError: state?.lastError ?? null,
      nextPullAt: state?.nextPullAt ?? null,
      factsBehind: state?.factsBehind ?? null,
    };
  }

  forget(peerId: string): void {
    const state = this.#states.get(peerId);
    if (state) clearTimeout(state.timer);
    state?.subscription?.close();
    this.#states.delete(peerId);
    const peer = this.options.peers.get(peerId);
    if (peer) this.options.metrics.forgetPeer(peer.entityUri);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    for (const state of this.#states.values()) {
      clearTimeout(state.timer);
      state.subscription?.close();
    }
    await Promise.allSettled([...this.#states.values()].map((s) => s.running));
  }

  #state(peerId: string): PeerState {
    let state = this.#states.get(peerId);
    if (!state) {
      state = {
        timer: undefined,
        running: undefined,
        again: false,
        held: false,
        unknownToPeer: false,
        failures: 0,
        degraded: null,
        lastSuccessAt: null,
        lastError: null,
        nextPullAt: null,
        factsBehind: null,
        subscription: undefined,
        caughtUp: undefined,
        streamBroke: false,
        streamRetryMs: undefined,
        afterRunning: undefined,
        afterAgain: false,
      };
      this.#states.set(peerId, state);
    }
    return state;
  }

  #schedule(peerId: string, delayMs: number): void {
    const state = this.#state(peerId);
    if (state.running) {
      if (delayMs === 0) state.again = true;
      return;
    }
    clearTimeout(state.timer);
    state.nextPullAt = this.#now() + delayMs;
    state.timer = setTimeout(() => void this.#run(peerId), delayMs);
    state.timer.unref();
  }

  #now(): number {
    return (this.options.now ?? Date.now)();
  }

  #run(peerId: string): Promise<void> {
    const state = this.#state(peerId);
    clearTimeout(state.timer);
    state.nextPullAt = null;
    state.running = (async () => {
      do {
        state.again = false;
        const peer = this.options.peers.get(peerId);
        if (peer?.status !== 'approved' || this.#stopped) return;
        try {
          // Replicas of this node take turns: the one holding the peer's lease pulls, the others skip this
          // cycle (and try again at the next interval, so one takes over when the holder dies).
          const lease = await this.options.store.lease(`pull:${peer.entityUri}`);
          if (!lease) {
            this.options.metrics.pulls.inc({ peer: peer.entityUri, result: 'leased_elsewhere' });
            break;
          }
          let cycle = { capped: false, received: 0 };
          state.streamBroke = false;
          state.streamRetryMs = undefined;
          try {
            // A live stream when the transport has one to this peer (it runs until it breaks); pages otherwise.
            if (!(await this.#stream(peer, state))) {
              state.streamRetryMs = this.options.client.streamRetryAfterMs(peer);
              cycle = await this.#cycle(peer, state);
            }
          } finally {
            await lease.release().catch(() => undefined);
          }
          state.failures = 0;
          // A capped cycle that stored nothing (an endless, refused or trickling-empty feed) holds: the rest
          // waits for the next interval, whatever wakes come in meanwhile. One that stored facts is a backlog
          // being caught up: the next cycle starts at once (the cap still bounds each cycle and its lease).
          const stalled = cycle.capped && cycle.received === 0;
          state.held = stalled;
          state.unknownToPeer = false;
          state.lastSuccessAt = this.#now();
          this.#setHealth(peer, state, null);
          if (stalled) break;
          if (cycle.capped) state.again = true;
        } catch (error) {
          state.failures++;
          state.held = true;
          const reason = failureReason(error);
          state.unknownToPeer = reason === PEER_DOES_NOT_KNOW_US;
          const detail = `${(error as Error).message}${this.#skewNote(peer.entityUri, reason)}`;
          state.lastError = {
            reason,
            detail: detail.slice(0, MAX_ERROR_DETAIL),
            at: this.#now(),
          };
          if (error instanceof PeerMisbehaved) this.#setHealth(peer, state, error.reason);
          this.options.metrics.pulls.inc({
            peer: peer.entityUri,
            result: error instanceof PeerMisbehaved ? 'degraded' : 'failure',
          });
          this.options.logger.warn(
            {
              event: 'federation_pull_failed',
              peer: peer.entityUri,
              failures: state.failures,
              error: detail,
            },
            'federation pull failed; backing off',
          );
          // A wake that came in meanwhile does not skip the backoff: a failing peer is not hammered.
          break;
        }
      } while (state.again && !this.#stopped);
    })().finally(() => {
      state.running = undefined;
      if (!this.#stopped && this.options.peers.get(peerId)?.status === 'approved')
        this.#schedule(peerId, this.#delay(state));
    });
    return state.running;
  }

  /**
   * A certificate the peer presented was refused as not valid yet (or expired): most often a clock off on one
   * side, so say by how much the peer's clock was last measured off ours (nothing when never measured).
   */
  #skewNote(entityUri: string, reason: string): string {
    if (!/:cert_(not_yet_valid|expired)$/.test(reason)) return '';
    const skewMs = this.options.peerSkewMs?.(entityUri);
    if (skewMs === undefined) return "; the peer's clock has not been measured yet";
    const seconds = Math.round(skewMs / 1000);
    return `; the peer's clock was last measured ${Math.abs(seconds)} s ${seconds >= 0 ? 'ahead of' : 'behind'} this node's`;
  }

  #setHealth(peer: PeerRecord, state: PeerState, reason: string | null): void {
    this.options.metrics.peerDegraded.set({ peer: peer.entityUri }, reason ? 1 : 0);
    if (state.degraded === reason) return;
    state.degraded = reason;
    this.options.onHealth?.(peer, reason);
  }

  #delay(state: PeerState): number {
    const { failures } = state;
    const { intervalMs } = this.options;
    // A stream that worked and broke (the peer restarted, a connection dropped) is resumed within seconds.
    if (state.streamBroke)
      return Math.round(
        Math.min(1000 * 2 ** Math.min(failures - 1, 5), intervalMs) *
          (0.5 + 0.5 * (this.options.random ?? Math.random)()),
      );
    if (failures === 0)
      return state.streamRetryMs === undefined ? intervalMs : Math.min(intervalMs, state.streamRetryMs + 100);
    const max = this.options.maxBackoffMs ?? Math.min(10 * intervalMs, 15 * 60_000);
    const base = Math.min(max, Math.max(intervalMs, 1000) * 2 ** Math.min(failures - 1, 20));
    // Jitter (50–100 % of the step) keeps a fleet of nodes from retrying a recovering peer in lockstep.
    return Math.round(base * (0.5 + 0.5 * (this.options.random ?? Math.random)()));
  }

  /**
   * One feed page. A page refused as a whole (the transport's `bad_response` / `response_too_large`, or a
   * body that is not a feed page) is the peer misbehaving: counted with its reason and the peer degraded.
   * A network failure or a deadline is an ordinary failure (backoff only).
   */
  async #fetchPage(peer: PeerRecord, limit: number, cursor: string | null): Promise<FederationFeedPage> {
    let page: FederationFeedPage | null;
    try {
      page = (await this.options.client.pullFacts(peer, {
        limit,
        ...(cursor ? { cursor } : {}),
      })) as FederationFeedPage | null;
    } catch (error) {
      const why = error instanceof NodeError ? error.extra.peer_error : undefined;
      if (why === 'bad_response' || why === 'response_too_large')
        throw this.#pageRefused(peer, why, (error as Error).message);
      throw error;
    }
    return this.#checkPage(peer, page, limit);
  }

  /** A page that is not a feed page (or holds more than `limit` facts) is refused as a whole. */
  #checkPage(peer: PeerRecord, raw: unknown, limit: number): FederationFeedPage {
    const page = raw as FederationFeedPage | null;
    if (!page || !Array.isArray(page.facts) || typeof page.cursor !== 'string' || page.facts.length > limit)
      throw this.#pageRefused(peer, 'malformed_page', `${peer.entityUri} sent a malformed feed page`);
    return page;
  }

  #pageRefused(peer: PeerRecord, reason: string, detail: string): PeerMisbehaved {
    this.options.metrics.pagesRefused.inc({ peer: peer.entityUri, reason });
    return new PeerMisbehaved(`page_refused:${reason}`, detail);
  }

  /**
   * Counts and (sampled) logs a refused record; rethrows anything that is not a NodeError (a store error
   * aborts the page: rolled back, retried after the backoff).
   */
  #refuse(peer: PeerRecord, error: unknown, refused: Map<string, number>): void {
    if (!(error instanceof NodeError)) throw error;
    this.options.metrics.factsRefused.inc({ peer: peer.entityUri, reason: error.code });
    refused.set(error.code, (refused.get(error.code) ?? 0) + 1);
    // A hostile page can hold hundreds of bad facts: every one counted, a few logged per second.
    const { log, suppressed } = this.#sampleLog(`${peer.id}:${error.code}`);
    if (log)
      this.options.logger.warn(
        {
          event: 'federation_fact_refused',
          peer: peer.entityUri,
          reason: error.code,
          detail: error.message,
          ...(suppressed ? { suppressed } : {}),
        },
        'refused a fact from a peer',
      );
  }

  /**
   * Ingests one page: every record is checked and its origin proven before the write transaction (a bad one
   * is refused alone with its reason, and signature checks never hold the lock), then the accepted ones
   * are stored with the page's cursor in one transaction (a crash loses nothing and duplicates nothing).
   */
  async #ingest(peer: PeerRecord, page: FederationFeedPage, refused: Map<string, number>): Promise<number> {
    const { store, facts } = this.options;
    // Every record is checked and its origin proven before the write transaction: a bad one is refused
    // alone with its reason, and signature checks (and an origin's manifest refresh) never hold the lock.
    const accepted: { record: FactRecord; proof: OriginProof }[] = [];
    for (const raw of page.facts) {
      try {
        // Facts that claim to have originated here are not the peer's to send: refused, never re-served as ours.
        if ((raw as { origin_node_id?: unknown })?.origin_node_id === this.options.selfEntityUri)
          throw new NodeError(
            'origin_spoofed',
            `a fact claiming to originate at ${this.options.selfEntityUri}`,
          );
        const record = facts.checkRemote(raw);
        accepted.push({ record, proof: await this.options.origins.verify(record) });
      } catch (error) {
        this.#refuse(peer, error, refused);
      }
    }
    const inserted = await store.tx(async (tx) => {
      let count = 0;
      for (const { record, proof } of accepted) {
        try {
          if ((await facts.storeRemote(tx, record, peer.entityUri, proof)).inserted) count++;
        } catch (error) {
          // id_conflict: the id is held by other content here; the stored fact stays, this one is refused.
          this.#refuse(peer, error, refused);
        }
      }
      await tx.setPullCursor(peer.id, page.cursor);
      return count;
    });
    this.options.metrics.factsReplicated.inc({ peer: peer.entityUri }, inserted);
    if (inserted > 0) this.options.onIngested?.(inserted);
    return inserted;
  }

  /**
   * Replication over a live stream, when the transport has one to this peer (false otherwise: pull pages).
   * Subscribes from the stored cursor; each page is checked and ingested exactly as a pulled page, its
   * cursor saved with it, so a broken stream resumes from the last stored page with nothing lost or
   * doubled. Each page without `more` is the peer's present: the cycle's end-work runs then. The stream
   * runs until it breaks (thrown: a failed cycle, backoff, then a new subscription), the puller stops, or
   * the peer is revoked.
   */
  async #stream(peer: PeerRecord, state: PeerState): Promise<boolean> {
    const limit = this.options.pageSize ?? FEED_PAGE_SIZE;
    const cursor = await this.options.store.getPullCursor(peer.id);
    const subscription = await this.options.client.subscribeFacts(peer, {
      limit,
      ...(cursor ? { cursor } : {}),
    });
    if (!subscription) return false;
    let markCaughtUp = () => {};
    state.caughtUp = new Promise((resolve) => {
      markCaughtUp = resolve;
    });
    state.subscription = subscription;
    this.options.onStream?.(1);
    let last = cursor;
    let received = 0;
    try {
      for await (const raw of subscription.pages()) {
        if (this.options.peers.get(peer.id)?.status !== 'approved' || this.#stopped) break;
        const page = this.#checkPage(peer, raw, limit);
        const refused = new Map<string, number>();
        received += await this.#ingest(peer, page, refused);
        // The stream worked: if it breaks now (the peer restarted, a connection dropped) it is resumed soon.
        state.streamBroke = true;
        state.factsBehind = factsBehind(page);
        if (page.more && page.cursor === last)
          throw new PeerMisbehaved(
            'cursor_stalled',
            `${peer.entityUri} sent more: true without advancing its cursor`,
          );
        last = page.cursor;
        if (page.more && refused.size === 0) continue;
        await this.#finish(peer, refused, false, received, state);
        received = 0;
        // Healthy and caught up: a stream that breaks later starts its backoff afresh, from a second.
        state.failures = 0;
        state.lastSuccessAt = this.#now();
        this.#setHealth(peer, state, null);
        markCaughtUp();
      }
    } finally {
      subscription.close();
      await state.afterRunning;
      state.subscription = undefined;
      markCaughtUp();
      state.caughtUp = undefined;
      // Ended without breaking (the puller stops, the peer was revoked): nothing to resume quickly.
      if (this.#stopped || this.options.peers.get(peer.id)?.status !== 'approved') state.streamBroke = false;
      this.options.onStream?.(-1);
    }
    return true;
  }

  #afterCycle(peer: PeerRecord): Promise<void> {
    return (this.options.afterCycle?.(peer) ?? Promise.resolve()).catch((error: Error) => {
      this.options.metrics.pulls.inc({ peer: peer.entityUri, result: 'after_cycle_failure' });
      this.options.logger.warn(
        { event: 'federation_after_cycle_failed', peer: peer.entityUri, error: error.message },
        'revocation pull or manifest refresh failed; facts were replicated',
      );
    });
  }

  /** The end-work of a live stream's page: runs now, or once more after the one in progress. */
  #afterInBackground(peer: PeerRecord, state: PeerState): void {
    if (state.afterRunning) {
      state.afterAgain = true;
      return;
    }
    state.afterRunning = (async () => {
      do {
        state.afterAgain = false;
        await this.#afterCycle(peer);
      } while (state.afterAgain && !this.#stopped);
    })().finally(() => {
      state.afterRunning = undefined;
    });
  }

  /** One cycle; true when it ended at its page or time cap with more waiting. */
  async #cycle(peer: PeerRecord, state: PeerState): Promise<{ capped: boolean; received: number }> {
    const { store } = this.options;
    const limit = this.options.pageSize ?? FEED_PAGE_SIZE;
    const now = this.options.now ?? Date.now;
    const started = now();
    const maxPages = this.options.maxPagesPerCycle ?? 1000;
    const maxCycleMs = this.options.maxCycleMs ?? 60_000;
    let received = 0;
    let pages = 0;
    let capped = false;
    const refused = new Map<string, number>();
    let cursor = await store.getPullCursor(peer.id);
    // Pipelined: the next page is requested as soon as this one arrives, and travels while this one is
    // checked and stored. Its cursor is this page's, which is stored with this page; if storing fails, or
    // the cycle stops, the page in flight is dropped unread and the stored cursor is where the next starts.
    let inFlight: Promise<FederationFeedPage> | null = null;
    try {
      for (;;) {
        // Re-checked every page: a revocation or a shutdown stops the cycle at once, not after the feed drains.
        if (this.options.peers.get(peer.id)?.status !== 'approved' || this.#stopped)
          return { capped: false, received };
        const page = await (inFlight ?? this.#fetchPage(peer, limit, cursor));
        inFlight = null;
        pages++;
        // An unchanged cursor with `more` would loop forever: the cycle ends and the peer is flagged.
        const stalled = page.more && page.cursor === cursor;
        // A feed that never ends (or a slow one) gets a bounded share: the rest waits for the next cycle.
        const capReached = pages >= maxPages || now() - started >= maxCycleMs;
        if (page.more && !stalled && !capReached) inFlight = this.#fetchPage(peer, limit, page.cursor);
        const inserted = await this.#ingest(peer, page, refused);
        received += inserted;
        state.factsBehind = factsBehind(page);
        if (!page.more) break;
        if (stalled)
          throw new PeerMisbehaved(
            'cursor_stalled',
            `${peer.entityUri} answered more: true without advancing its cursor`,
          );
        if (capReached) {
          this.options.metrics.pulls.inc({ peer: peer.entityUri, result: 'capped' });
          capped = true;
          break;
        }
        cursor = page.cursor;
      }
    } finally {
      // A page still travelling when the cycle ends is not waited for; its failure is nobody's.
      inFlight?.catch(() => undefined);
    }
    await this.#finish(peer, refused, capped, received);
    return { capped, received };
  }

  /**
   * The end of a cycle (or of a stream's catch-up to the peer's present): revocations and the manifest
   * refresh ride along, refused facts make it a failure, else it counts as a success.
   */
  async #finish(
    peer: PeerRecord,
    refused: Map<string, number>,
    capped: boolean,
    received: number,
    live?: PeerState,
  ) {
    const now = this.options.now ?? Date.now;
    // Revocations and the manifest refresh ride along; their failure is logged, not a failed facts pull.
    // On a live stream they run beside it (one at a time), so they never hold up the next page.
    if (live) this.#afterInBackground(peer, live);
    else await this.#afterCycle(peer);
    // Bad facts were refused one by one and the good ones kept; a peer that keeps sending them backs off.
    if (refused.size > 0) {
      const [reason] = [...refused.entries()].sort((a, b) => b[1] - a[1])[0] as [string, number];
      throw new PeerMisbehaved(
        `facts_refused:${reason}`,
        `${peer.entityUri} sent ${[...refused.values()].reduce((a, b) => a + b)} refused facts`,
      );
    }
    this.options.metrics.pulls.inc({ peer: peer.entityUri, result: 'success' });
    // Caught up only when the feed was drained: a capped cycle leaves the lag growing, as it should.
    if (!capped) {
      this.options.metrics.lastPullSuccess.set({ peer: peer.entityUri }, now() / 1000);
      this.options.metrics.markCaughtUp(peer.entityUri, now());
    }
    if (received > 0)
      this.options.logger.info(
        { event: 'federation_pulled', peer: peer.entityUri, facts: received },
        'facts replicated',
      );
  }
}
