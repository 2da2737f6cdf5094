// Quotas on the API listener: an onRequest hook, installed AFTER installApiAuth (it needs
// request.principal), that takes one token from the principal's bucket for the route's dimension and
// answers 429 with when to come back. Routes no rule names (health, metrics, well-known) are not counted.
import type { FastifyInstance, FastifyReply } from 'fastify';
import { NodeError } from '../errors.ts';
import type { QuotaDecision, QuotaDimension, Quotas } from './quotas.ts';

export interface QuotaRouteRule {
  /** Route pattern or prefix (matches the pattern and anything below it). */
  path: string;
  /** Methods covered (HEAD counts as GET); all when absent. */
  methods?: readonly string[];
  dimension: QuotaDimension;
}

export const DEFAULT_QUOTA_RULES: readonly QuotaRouteRule[] = [
  { path: '/v1/facts', methods: ['POST'], dimension: 'fact_write' },
  { path: '/v1/facts', methods: ['GET'], dimension: 'fact_read' },
  { path: '/v1/admin', dimension: 'admin' },
  // Verifying costs signature checks and possibly a manifest fetch: counted like a read.
  { path: '/v1/capabilities/verify', methods: ['POST'], dimension: 'fact_read' },
  { path: '/v1/capabilities', dimension: 'admin' },
];

export function dimensionOf(
  method: string,
  route: string | undefined,
  rules: readonly QuotaRouteRule[] = DEFAULT_QUOTA_RULES,
): QuotaDimension | null {
  if (route === undefined) return null;
  const m = method === 'HEAD' ? 'GET' : method;
  for (const rule of rules)
    if (
      (route === rule.path || route.startsWith(`${rule.path}/`)) &&
      (!rule.methods || rule.methods.includes(m))
    )
      return rule.dimension;
  return null;
}

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

export function installQuotas(
  app: FastifyInstance,
  quotas: Quotas,
  options: { rules?: readonly QuotaRouteRule[] } = {},
): void {
  if (!quotas.enabled) return;
  const rules = [...(options.rules ?? []), ...DEFAULT_QUOTA_RULES];
  app.addHook('onRequest', async (request, reply) => {
    const dimension = dimensionOf(request.method, request.routeOptions.url, rules);
    if (!dimension || !request.principal) return;
    const decision = quotas.take(request.principal.entityUri, dimension);
    if (!decision.allowed) throw quotaExceeded(decision, reply);
  });
}
