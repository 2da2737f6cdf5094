// "Quotas near their ceiling": the principals (API keys' entities, peers) whose token bucket for a
// dimension holds less than a fifth of its capacity, emptiest first: who is about to get 429s.
import type { Quotas } from '../quotas/quotas.ts';

/** A bucket under this fraction of its capacity is near its ceiling. */
export const NEAR_CEILING = 0.2;
const MAX_ROWS = 20;

export async function quotasSection(quotas: Quotas) {
  if (!quotas.enabled) return { enabled: false, threshold: NEAR_CEILING, near_ceiling: [] };
  const low = await quotas.nearCeiling(NEAR_CEILING, MAX_ROWS);
  return {
    enabled: true,
    threshold: NEAR_CEILING,
    near_ceiling: low.map((level) => ({
      principal: level.principal,
      dimension: level.dimension,
      remaining: level.remaining,
      capacity: level.capacity,
      per_hour: level.perHour,
    })),
  };
}
