// The capability API on the API listener: POST /v1/capabilities (issue), POST /v1/capabilities/verify,
// POST /v1/capabilities/{id}/revoke; and the revocation feed on the federation listener. Each route declares
// its access: verify needs read; issue and revoke need admin.
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { CapabilityStore } from '../../../store/ports/capabilities.ts';
import { parseInput } from '../../validate.ts';
import { FEDERATION_PATHS } from '../federation/https/paths.ts';
import { revocationFeed } from './revocations.ts';
import type { CapabilityService } from './service.ts';
import { boundedText } from './token.ts';

const ADMIN = { access: 'admin', quota: 'admin' } as const;

const text = boundedText;

const IssueBody = z.strictObject({
  subject: text(2048),
  verb: text(128),
  object: text(2048),
  expires_at: z.iso.datetime({ offset: true }).optional(),
  ttl_seconds: z.number().int().positive().optional(),
});
const VerifyBody = z.strictObject({
  token: z.string().min(1).max(8192),
  verb: text(128).optional(),
  object: text(2048).optional(),
});
const RevokeBody = z.strictObject({ reason: z.string().max(1024).optional() });

export interface CapabilityRouteDeps {
  service: CapabilityService;
}

export function registerCapabilityRoutes(app: FastifyInstance, deps: CapabilityRouteDeps): void {
  const { service } = deps;

  app.post('/v1/capabilities', { config: ADMIN }, async (request, reply) => {
    const body = parseInput(IssueBody, request.body ?? {});
    const issued = await service.issue(
      {
        subject: body.subject,
        verb: body.verb,
        object: body.object,
        ...(body.expires_at !== undefined ? { expires_at: body.expires_at } : {}),
        ...(body.ttl_seconds !== undefined ? { ttl_seconds: body.ttl_seconds } : {}),
      },
      request.principal?.entityUri,
    );
    // The token is a bearer credential: never cached by a proxy or a browser.
    return reply.status(201).header('cache-control', 'no-store').send(issued);
  });

  // A verdict, not an authorization: 200 with {valid} either way, the reason when refused.
  // Verifying costs signature checks and possibly a manifest fetch: counted like a read.
  app.post('/v1/capabilities/verify', { config: { access: 'read', quota: 'fact_read' } }, async (request) => {
    const body = parseInput(VerifyBody, request.body ?? {});
    return service.verify(body.token, {
      ...(body.verb !== undefined ? { verb: body.verb } : {}),
      ...(body.object !== undefined ? { object: body.object } : {}),
    });
  });

  app.post<{ Params: { id: string } }>('/v1/capabilities/:id/revoke', { config: ADMIN }, async (request) => {
    const body = parseInput(RevokeBody, request.body ?? {});
    const { revocation, alreadyRevoked } = await service.revoke(
      request.params.id,
      body.reason ?? null,
      request.principal?.entityUri,
    );
    return { ...revocation, already_revoked: alreadyRevoked };
  });
}

/** GET /v1/federation/revocations?cursor&limit on the federation listener, for approved peers. */
export function registerRevocationFeedRoute(
  app: FastifyInstance,
  deps: { store: CapabilityStore; selfEntityUri: string },
): void {
  app.get(FEDERATION_PATHS.revocations, { config: { access: 'peer' } }, async (request) =>
    revocationFeed(deps.store, deps.selfEntityUri, request.query),
  );
}
