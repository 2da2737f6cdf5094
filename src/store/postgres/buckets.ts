// Quota token buckets on PostgreSQL, shared by the replicas of a node: one row per bucket, refilled and
// taken from in one autocommit statement (the row lock of ON CONFLICT DO UPDATE serializes the takers of
// one bucket; no write lock, no transaction). The arithmetic is the in-memory TokenBucket's: integer
// token-milliseconds, a capacity of `capacity` tokens (the burst, at most an hour's worth), a clock behind
// the bucket's refills nothing.
import type { Pool } from 'pg';
import type { BucketLevel, TokenBuckets, TokenTake } from '../store.ts';
import { prepared } from './sql.ts';

const UNITS_PER_TOKEN = 3_600_000;

// $1 key, $2 per hour, $3 now (ms), $4 capacity (tokens). REFILLED: the bucket topped up to now, at most its
// capacity (an hour refills any bucket: the elapsed time is capped there, so the product never overflows).
const REFILLED =
  'least($4::bigint * 3600000, b.units + least(3600000, greatest(0, $3::bigint - b.at_ms)) * $2::bigint)';
const TAKE = prepared(
  'tessera_quota_take',
  `INSERT INTO quota_buckets AS b (key, units, per_hour, capacity, at_ms, took)
     VALUES ($1, $4::bigint * 3600000 - 3600000, $2, $4, $3, true)
   ON CONFLICT (key) DO UPDATE SET
     units = CASE WHEN ${REFILLED} >= 3600000 THEN ${REFILLED} - 3600000 ELSE ${REFILLED} END,
     took = ${REFILLED} >= 3600000,
     per_hour = $2,
     capacity = $4,
     at_ms = greatest(b.at_ms, $3)
   RETURNING units, took`,
);
const PRUNE = prepared(
  'tessera_quota_prune',
  'DELETE FROM quota_buckets WHERE units + least(3600000, greatest(0, $1::bigint - at_ms)) * per_hour >= capacity * 3600000',
);

// $1 now (ms), $2 fraction, $3 limit: the buckets below the fraction of their capacity once refilled to now.
const LOWEST = prepared(
  'tessera_quota_lowest',
  `SELECT key, capacity, per_hour, floor(refilled / 3600000) AS tokens
   FROM (SELECT key, capacity, per_hour,
           least(capacity * 3600000, units + least(3600000, greatest(0, $1::bigint - at_ms)) * per_hour) AS refilled
         FROM quota_buckets) AS b
   WHERE refilled < capacity * 3600000 * $2::float8
   ORDER BY refilled::float8 / capacity, key
   LIMIT $3`,
);

/** The buckets over `pool`. */
export function postgresBuckets(pool: Pool): TokenBuckets {
  return {
    async take(key, perHour, nowMs, capacity = perHour): Promise<TokenTake> {
      if (!Number.isSafeInteger(perHour) || perHour < 1)
        throw new TypeError(`a bucket holds at least one token an hour (got ${perHour})`);
      if (!Number.isSafeInteger(capacity) || capacity < 1 || capacity > perHour)
        throw new TypeError(`a bucket holds 1 to ${perHour} tokens (got ${capacity})`);
      const { rows } = await pool.query<{ units: string; took: boolean }>(TAKE, [
        key,
        perHour,
        Math.floor(nowMs),
        capacity,
      ]);
      const row = rows[0];
      if (!row || row.took) return { ok: true };
      return { ok: false, waitMs: Math.max(1, Math.ceil((UNITS_PER_TOKEN - Number(row.units)) / perHour)) };
    },
    async prune(nowMs) {
      await pool.query(PRUNE, [Math.floor(nowMs)]);
    },
    async lowest(nowMs, fraction, limit): Promise<BucketLevel[]> {
      const { rows } = await pool.query<{ key: string; capacity: string; per_hour: string; tokens: string }>(
        LOWEST,
        [Math.floor(nowMs), fraction, limit],
      );
      return rows.map((row) => ({
        key: row.key,
        remaining: Number(row.tokens),
        capacity: Number(row.capacity),
        perHour: Number(row.per_hour),
      }));
    },
  };
}
