// Per-principal quotas: one token bucket per (principal, dimension), refilled continuously at the hourly
// rate. Fact writes and reads hold at most `burst` tokens (TESSERA_RATE_LIMIT_BURST), so a client that has
// been idle cannot spend its whole hour in one go (Stigmem's tutorial expects a 429 within 200 writes at
// 1 000 an hour); admin calls and feed pages keep a full hour's bucket, so a peer catching up is not cut
// off mid-feed. Principals are entity URIs (all keys of one entity share its quota); federation_pull is
// per peer entity URI. Memory stays bounded: buckets that have refilled completely are equal to fresh
// ones and are swept (at most once a minute, and whenever the map passes its bound); if the bound is
// still exceeded the least recently used buckets go (they restart full: a loss of precision, not of safety
// as long as the bound is far above the number of principals).

import type { TokenBuckets } from '../../../store/store.ts';
import { type Clock, systemClock } from '../../../tls/clock.ts';
import type { Logger } from '../../../tls/logger.ts';
import { TokenBucket } from './token-bucket.ts';

export const QUOTA_DIMENSIONS = ['fact_write', 'fact_read', 'federation_pull', 'admin'] as const;
export type QuotaDimension = (typeof QUOTA_DIMENSIONS)[number];

/** The rate-limit settings (NodeConfig.quotas). */
export interface QuotaSettings {
  writePerHour: number;
  readPerHour: number;
  federationPullPerHour: number;
  adminPerHour: number;
  /** Most fact writes (and, separately, reads) a principal may make at once; capped by each hourly rate. */
  burst: number;
  /** write = read = 0 with TESSERA_RATE_LIMIT_DISABLED_ACK=1: no quota at all. */
  disabled: boolean;
}

export type QuotaDecision =
  | { allowed: true }
  | {
      allowed: false;
      dimension: QuotaDimension;
      principal: string;
      limitPerHour: number;
      /** Exact wait until one token is back. */
      retryAfterMs: number;
    };

/** A bucket with little left, for the status page's "quotas near their ceiling". */
export interface QuotaLevel {
  principal: string;
  dimension: QuotaDimension;
  /** Whole tokens left now. */
  remaining: number;
  /** Most tokens the bucket holds (the burst, or an hour's worth). */
  capacity: number;
  perHour: number;
}

export interface Quotas {
  readonly enabled: boolean;
  take(principal: string, dimension: QuotaDimension): QuotaDecision | Promise<QuotaDecision>;
  /** One federation feed page for the peer with this entity URI. */
  takeFederationPull(peerEntityUri: string): QuotaDecision | Promise<QuotaDecision>;
  /** Buckets held in memory. */
  size(): number;
  /** Buckets with less than `fraction` of their capacity left now, emptiest first, at most `limit`. */
  nearCeiling(fraction: number, limit: number): QuotaLevel[] | Promise<QuotaLevel[]>;
}

/** Quotas kept in this process (one replica, SQLite): decided at once. */
export interface MemoryQuotas extends Quotas {
  take(principal: string, dimension: QuotaDimension): QuotaDecision;
  takeFederationPull(peerEntityUri: string): QuotaDecision;
  nearCeiling(fraction: number, limit: number): QuotaLevel[];
}

export interface QuotaOptions {
  /** Each refusal (the node writes it to the audit log). */
  onBreach?(dimension: QuotaDimension, principal: string): void;
  /** Upper bound of buckets in memory; default 100 000. */
  maxBuckets?: number;
}

const SWEEP_EVERY_MS = 60_000;

export function createQuotas(
  settings: QuotaSettings,
  clock: Clock = systemClock,
  options: QuotaOptions = {},
): MemoryQuotas {
  const rates = hourlyRates(settings);
  const capacities = bucketCapacities(settings.burst, rates);
  const maxBuckets = options.maxBuckets ?? 100_000;
  /** Map order = least recently used first. */
  const buckets = new Map<string, TokenBucket>();
  let lastSweepMs = clock().getTime();

  const sweep = (nowMs: number) => {
    lastSweepMs = nowMs;
    for (const [key, bucket] of buckets) if (bucket.isFull(nowMs)) buckets.delete(key);
    for (const key of buckets.keys()) {
      if (buckets.size <= maxBuckets) break;
      buckets.delete(key);
    }
  };

  const take = (principal: string, dimension: QuotaDimension): QuotaDecision => {
    if (settings.disabled) return { allowed: true };
    const nowMs = clock().getTime();
    const key = `${dimension}\u0000${principal}`;
    let bucket = buckets.get(key);
    if (bucket) buckets.delete(key);
    else bucket = new TokenBucket(rates[dimension], nowMs, capacities[dimension]);
    buckets.set(key, bucket);
    const result = bucket.take(nowMs);
    if (buckets.size > maxBuckets || nowMs - lastSweepMs >= SWEEP_EVERY_MS) sweep(nowMs);
    return decision(result, dimension, principal, rates[dimension], (d, p) => options.onBreach?.(d, p));
  };

  const nearCeiling = (fraction: number, limit: number): QuotaLevel[] => {
    const nowMs = clock().getTime();
    const low: QuotaLevel[] = [];
    for (const [key, bucket] of buckets) {
      const remaining = bucket.tokens(nowMs);
      if (remaining >= fraction * bucket.capacity) continue;
      const [dimension, principal] = key.split('\u0000') as [QuotaDimension, string];
      low.push({ principal, dimension, remaining, capacity: bucket.capacity, perHour: bucket.perHour });
    }
    return emptiestFirst(low, limit);
  };

  return {
    enabled: !settings.disabled,
    take,
    takeFederationPull: (peerEntityUri) => take(peerEntityUri, 'federation_pull'),
    size: () => buckets.size,
    nearCeiling,
  };
}

function emptiestFirst(levels: QuotaLevel[], limit: number): QuotaLevel[] {
  return levels
    .sort(
      (a, b) => a.remaining / a.capacity - b.remaining / b.capacity || a.principal.localeCompare(b.principal),
    )
    .slice(0, limit);
}

/** Requests per hour of each dimension. */
function hourlyRates(settings: QuotaSettings): Record<QuotaDimension, number> {
  return {
    fact_write: settings.writePerHour,
    fact_read: settings.readPerHour,
    federation_pull: settings.federationPullPerHour,
    admin: settings.adminPerHour,
  };
}

/** The answer to a take: allowed, or the 429's details (and the breach reported). */
function decision(
  result: { ok: true } | { ok: false; waitMs: number },
  dimension: QuotaDimension,
  principal: string,
  limitPerHour: number,
  onBreach: QuotaOptions['onBreach'],
): QuotaDecision {
  if (result.ok) return { allowed: true };
  onBreach?.(dimension, principal);
  return { allowed: false, dimension, principal, limitPerHour, retryAfterMs: result.waitMs };
}

/** Fact writes and reads hold at most `burst` tokens; the other dimensions an hour's worth. */
function bucketCapacities(
  burst: number,
  rates: Record<QuotaDimension, number>,
): Record<QuotaDimension, number> {
  return {
    fact_write: Math.min(burst, rates.fact_write),
    fact_read: Math.min(burst, rates.fact_read),
    federation_pull: rates.federation_pull,
    admin: rates.admin,
  };
}

/**
 * Quotas whose buckets are in the store (PostgreSQL), so the replicas of a node share them: the N+1th
 * write of a principal is refused whichever replica it reaches. Times come from `clock`.
 */
export function createSharedQuotas(
  settings: QuotaSettings,
  buckets: TokenBuckets,
  clock: Clock = systemClock,
  options: QuotaOptions = {},
): Quotas {
  const rates = hourlyRates(settings);
  const capacities = bucketCapacities(settings.burst, rates);
  let lastPruneMs = clock().getTime();
  const take = async (principal: string, dimension: QuotaDimension): Promise<QuotaDecision> => {
    if (settings.disabled) return { allowed: true };
    const nowMs = clock().getTime();
    if (nowMs - lastPruneMs >= SWEEP_EVERY_MS) {
      lastPruneMs = nowMs;
      void buckets.prune(nowMs).catch(() => undefined);
    }
    // A space, not NUL: PostgreSQL text cannot hold NUL (entity URIs hold no space).
    const result = await buckets.take(
      `${dimension} ${principal}`,
      rates[dimension],
      nowMs,
      Math.max(1, capacities[dimension]),
    );
    return decision(result, dimension, principal, rates[dimension], (d, p) => options.onBreach?.(d, p));
  };
  return {
    enabled: !settings.disabled,
    take,
    takeFederationPull: (peerEntityUri) => take(peerEntityUri, 'federation_pull'),
    size: () => 0,
    async nearCeiling(fraction, limit) {
      const low = await buckets.lowest(clock().getTime(), fraction, limit);
      return emptiestFirst(
        low.flatMap(({ key, ...level }) => {
          // Keys are `<dimension> <principal>` (see take): anything else is not a quota bucket of ours.
          const space = key.indexOf(' ');
          const dimension = key.slice(0, space) as QuotaDimension;
          if (space < 0 || !QUOTA_DIMENSIONS.includes(dimension)) return [];
          return [{ principal: key.slice(space + 1), dimension, ...level }];
        }),
        limit,
      );
    },
  };
}

/** To call at every start: quotas switched off is logged loudly, every time. */
export function warnIfQuotasDisabled(settings: QuotaSettings, logger: Logger): void {
  if (!settings.disabled) return;
  logger.warn(
    { event: 'quotas_disabled' },
    'SECURITY WARNING: per-principal quotas are DISABLED (TESSERA_RATE_LIMIT_WRITE_PER_HOUR=0, TESSERA_RATE_LIMIT_READ_PER_HOUR=0, TESSERA_RATE_LIMIT_DISABLED_ACK=1); any API key can write, read and pull without limit.',
  );
}
