// API authentication for this stage: one static key from configuration, compared in constant time.
// Health and metrics stay open so probes and scrapers need no secret. The key is never logged.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { HttpError } from '../http-errors.ts';

const PUBLIC_ROUTES = new Set([
  '/healthz',
  '/readyz',
  '/metrics',
  '/.well-known/tessera',
  '/.well-known/tessera-manifest.json',
]);

const digest = (value: string) => createHash('sha256').update(value).digest();

export function installApiKeyAuth(
  app: FastifyInstance,
  options: { required: boolean; apiKey: string | undefined },
): void {
  if (!options.required) return;
  const expected = digest(options.apiKey ?? '');
  app.addHook('onRequest', async (request) => {
    if (PUBLIC_ROUTES.has(request.routeOptions.url ?? '')) return;
    const presented = /^Bearer (\S+)$/.exec(request.headers.authorization ?? '')?.[1];
    if (!presented)
      throw new HttpError(401, 'unauthorized', 'an API key is required: Authorization: Bearer <key>');
    // Hash both sides so the comparison is constant-time whatever the lengths.
    if (!timingSafeEqual(digest(presented), expected))
      throw new HttpError(401, 'unauthorized', 'the API key is not valid');
  });
}
