// Quotas on the API listener: an onRequest hook, installed AFTER installApiAuth (it needs
// request.principal), that takes one token from the principal's bucket for the route's dimension and
// answers 429 with when to come back. Routes that declare no `quota` in their config (health, metrics, well-known) are not counted.
import type { FastifyInstance, FastifyReply } from 'fastify';
import { NodeError } from '../../errors.ts';
import type { QuotaDecision, Quotas } from './quotas.ts';

/** Seconds for the body: fractional, rounded up to 0.1 s. */
export const retryAfterSeconds = (ms: number) => Math.ceil(ms / 100) / 10;

/**
 * The 429 for a refused decision: sets `Retry-After` (whole seconds, rounded up) on the reply and returns
 * the error to throw. Also for routes outside the hook: the federation feed after takeFederationPull.
 */
export function quotaExceeded(
  decision: Extract<QuotaDecision, { allowed: false }>,
  reply: FastifyReply,
): NodeError {
  const retryAfter = retryAfterSeconds(decision.retryAfterMs);
  reply.header('retry-after', String(Math.ceil(decision.retryAfterMs / 1000)));
  return new NodeError(
    'quota_exceeded',
    `${decision.principal} used its ${decision.dimension} quota of ${decision.limitPerHour} per hour; retry in ${retryAfter} s`,
    { dimension: decision.dimension, principal: decision.principal, retry_after: retryAfter },
  );
}

export function installQuotas(app: FastifyInstance, quotas: Quotas): void {
  if (!quotas.enabled) return;
  app.addHook('onRequest', async (request, reply) => {
    const dimension = request.is404 ? undefined : request.routeOptions.config.quota;
    if (!dimension || !request.principal) return;
    const decision = await quotas.take(request.principal.entityUri, dimension);
    if (!decision.allowed) throw quotaExceeded(decision, reply);
  });
}
