// The node's storage: one small port per concern, and the aggregate Store over all of them. Async and
// transactional so that the synchronous SQLite driver and an asynchronous PostgreSQL one both fit it
// unchanged: the node never sees which one it has. A service depends on the ports it uses, not on Store.
import type { ApiKeyStore } from './ports/api-keys.ts';
import type { AuditStore } from './ports/audit.ts';
import type { CapabilityStore } from './ports/capabilities.ts';
import type { FactLogStore } from './ports/fact-log.ts';
import type { FactStore } from './ports/facts.ts';
import type { MetaStore } from './ports/meta.ts';
import type { PeerKeyStore } from './ports/peer-keys.ts';
import type { PeerStore } from './ports/peers.ts';
import type { ReplayStore } from './ports/replay.ts';

/** Everything a transaction can do. Inside `tx(fn)` all calls commit together or not at all. */
export interface StoreOps
  extends FactStore,
    FactLogStore,
    PeerStore,
    PeerKeyStore,
    ApiKeyStore,
    AuditStore,
    CapabilityStore,
    ReplayStore,
    MetaStore {}

/** One token from a shared token bucket, or how long until one is there. */
export type TokenTake = { ok: true } | { ok: false; waitMs: number };

/**
 * Token buckets kept in the store, shared by the replicas of a node: `capacity` tokens (default one hour's
 * worth, `perHour`), refilled continuously at `perHour`, in integer token-milliseconds as the in-memory bucket.
 */
export interface TokenBuckets {
  /** Takes one token of bucket `key` at `nowMs` (the caller's clock; a clock behind the bucket's refills nothing). */
  take(key: string, perHour: number, nowMs: number, capacity?: number): Promise<TokenTake>;
  /** Forgets buckets that have refilled completely by `nowMs` (they equal fresh ones). */
  prune(nowMs: number): Promise<void>;
  /** Buckets with less than `fraction` of their capacity left at `nowMs`, emptiest first, at most `limit`. */
  lowest(nowMs: number, fraction: number, limit: number): Promise<BucketLevel[]>;
}

/** A bucket's whole tokens left at a time, with its capacity and hourly rate. */
export interface BucketLevel {
  key: string;
  remaining: number;
  capacity: number;
  perHour: number;
}

/** A named lease held by this process until released (see Store.lease). */
export interface Lease {
  release(): Promise<void>;
}

export interface Store extends StoreOps {
  /**
   * Runs fn in one transaction: committed when it resolves, rolled back when it throws. A tx() inside fn is
   * a savepoint (its failure, if caught, undoes only its own writes); store calls made inside fn join it.
   */
  tx<T>(fn: (tx: StoreOps) => Promise<T>): Promise<T>;
  /**
   * True when other processes (replicas of this node) may write the same state at the same time
   * (PostgreSQL); false when this process is its only writer (SQLite). What is kept in memory (the HLC,
   * caches, leases) must then be reconciled through the store.
   */
  readonly shared: boolean;
  /**
   * Takes the lease `name` if no one (no replica, no other caller in this process) holds it; null when it is
   * held. On PostgreSQL it is a session advisory lock: a replica that dies loses its leases with its
   * connection. On SQLite (one writer process) it is exclusive within the process only.
   */
  lease(name: string): Promise<Lease | null>;
  /**
   * Sends `payload` to every subscriber of `channel` (a-z and _, at most 32) in every replica of the node,
   * this process included; a short hint (at most 7999 bytes), not a durable message: a replica that is
   * reconnecting misses it. PostgreSQL: NOTIFY. SQLite: the subscribers of this process.
   */
  notify(channel: string, payload: string): Promise<void>;
  /**
   * Calls `listener` with every payload notified on `channel`; returns the unsubscribe function. `missed`
   * is called when notifications may have been lost (PostgreSQL: listening again after a lost connection):
   * the subscriber should then re-read what it follows.
   */
  subscribe(channel: string, listener: (payload: string) => void, missed?: () => void): () => void;
  /** Token buckets shared by every replica (PostgreSQL); null when the node keeps them in memory (SQLite). */
  readonly buckets: TokenBuckets | null;
  /** Cheap probe for /readyz: the database answers and accepts a write. */
  writable(): Promise<{ ok: true } | { ok: false; reason: string }>;
  close(): Promise<void>;
}
