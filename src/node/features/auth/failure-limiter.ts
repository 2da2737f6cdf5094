// Failed authentications per client address: a token bucket of `perHour` failures. While an address has
// used its failures up, its requests are refused with 429 before any key lookup or scrypt runs, so a
// stream of forged tokens cannot tie up the hash thread pool. Successful requests cost nothing here.
import { TokenBucket } from '../quotas/token-bucket.ts';

export interface FailureLimiter {
  /** 0 when the address may try, else milliseconds until it may. */
  waitMs(address: string): number;
  /** Counts one failed authentication from the address. */
  failed(address: string): void;
}

export function createFailureLimiter(
  perHour: number,
  now: () => number = Date.now,
  maxAddresses = 100_000,
): FailureLimiter {
  const buckets = new Map<string, TokenBucket>();
  return {
    waitMs: (address) => buckets.get(address)?.waitMs(now()) ?? 0,
    failed(address) {
      let bucket = buckets.get(address);
      if (!bucket) {
        // Bounded memory: full buckets are the same as absent ones, so they go first; then the oldest.
        if (buckets.size >= maxAddresses) {
          for (const [key, b] of buckets) if (b.isFull(now())) buckets.delete(key);
          if (buckets.size >= maxAddresses) buckets.delete(buckets.keys().next().value as string);
        }
        bucket = new TokenBucket(perHour, now());
        buckets.set(address, bucket);
      }
      bucket.take(now());
    },
  };
}
