// The capability API on the API listener: POST /v1/capabilities (issue), POST /v1/capabilities/verify,
// POST /v1/capabilities/{id}/revoke; and the revocation feed on the federation listener. Each route declares
// its access: verify needs read; issue and revoke need admin.
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { CapabilityStore } from '../../../store/ports/capabilities.ts';
import { component } from '../../http/openapi/components.ts';
import { describeRoute } from '../../http/openapi/route-doc.ts';
import { parseInput } from '../../validate.ts';
import { confirmationSchema, thumbprintOf } from '../auth/cert-binding.ts';
import { FEDERATION_PATHS } from '../federation/https/paths.ts';
import {
  REVOCATION_PAGE_SIZE,
  RevocationSchema,
  revocationFeed,
  revocationFeedQuery,
} from './revocations.ts';
import type { CapabilityService } from './service.ts';
import { boundedText, CAPABILITY_REFUSALS, MAX_CAPABILITY_TTL_S } from './token.ts';

const ADMIN = { access: 'admin', quota: 'admin' } as const;

const text = boundedText;

const IssueBody = z.strictObject({
  subject: text(2048),
  verb: text(128),
  object: text(2048),
  expires_at: z.iso.datetime({ offset: true }).optional(),
  ttl_seconds: z.number().int().positive().optional(),
  cnf: confirmationSchema(
    'Bind the capability to a client certificate (RFC 8705): verifying it then needs that certificate on the verify request (direct or forwarded by a trusted proxy).',
  ),
});
const VerifyBody = z.strictObject({
  token: z.string().min(1).max(8192),
  verb: text(128).optional(),
  object: text(2048).optional(),
});
const RevokeBody = z.strictObject({ reason: z.string().max(1024).optional() });

const capabilitySchema = component(
  'Capability',
  z.strictObject({
    id: z.string(),
    issuer: z.string().meta({ description: 'The issuing node’s entity URI.' }),
    subject: z.string(),
    verb: z.string(),
    object: z.string(),
    issued_at: z.string().meta({ format: 'date-time' }),
    expires_at: z.string().meta({ format: 'date-time' }),
    cnf: z
      .strictObject({ 'x5t#S256': z.string() })
      .optional()
      .meta({ description: 'Present when the capability is bound to a client certificate.' }),
  }),
);
const verdictSchema = z.union([
  z.strictObject({ valid: z.literal(true), capability: capabilitySchema }),
  z.strictObject({
    valid: z.literal(false),
    reason: z.enum(CAPABILITY_REFUSALS),
    detail: z.string(),
    capability: capabilitySchema.optional(),
  }),
]);

const exampleCapability = {
  id: 'Jx1c0mZ4QyWlKk9o3v7b2A',
  issuer: 'spiffe://example.org/node/a',
  subject: 'spiffe://example.org/agent/x',
  verb: 'read',
  object: 'acme:site/1',
  issued_at: '2026-05-01T10:00:00.000Z',
  expires_at: '2026-05-02T10:00:00.000Z',
};
const exampleToken =
  'eyJhbGciOiJFZERTQSIsInR5cCI6InRlc3NlcmEtY2FwK2p3dCJ9.eyJzdWIiOiJleGFtcGxlIn0.c2lnbmF0dXJl';

const TAG = 'capabilities';

const issueDoc = describeRoute({
  tag: TAG,
  summary: 'Issue a capability token',
  description:
    '“subject may <verb> <object> until expires_at, says this node”: an EdDSA JWT signed by the issuer ' +
    `key. Give \`expires_at\` or \`ttl_seconds\` (default one day, at most ${MAX_CAPABILITY_TTL_S} s). ` +
    'The token is in this response only (`Cache-Control: no-store`).',
  body: IssueBody,
  responses: {
    201: {
      description: 'Issued.',
      schema: capabilitySchema.extend({ token: z.string() }),
      example: { ...exampleCapability, token: exampleToken },
    },
  },
  errors: ['ttl_too_long', 'store_unavailable'],
  examples: {
    day: {
      summary: 'Read access to one entity for an hour',
      body: { subject: exampleCapability.subject, verb: 'read', object: 'acme:site/1', ttl_seconds: 3600 },
    },
  },
});

const verifyDoc = describeRoute({
  tag: TAG,
  summary: 'Verify a capability token',
  description:
    'A verdict, not an authorization: 200 either way, with the reason when refused. Checks the issuer’s ' +
    'keys (this node or an approved peer’s manifest), the lifetime, the revocations known here and, when ' +
    'given, the verb and object.',
  body: VerifyBody,
  responses: {
    200: {
      description: 'The verdict.',
      schema: verdictSchema,
      example: { valid: true, capability: exampleCapability },
    },
  },
  examples: {
    check: {
      summary: 'Does this token grant read on acme:site/1?',
      body: { token: exampleToken, verb: 'read', object: 'acme:site/1' },
    },
  },
});

const revokeDoc = describeRoute({
  tag: TAG,
  summary: 'Revoke a capability this node issued',
  description: 'Idempotent (the first revocation stays); replicated to peers, which are woken to fetch it.',
  params: z.strictObject({ id: z.string().meta({ description: 'The capability id (the token’s `jti`).' }) }),
  body: RevokeBody,
  responses: {
    200: {
      description: 'The revocation; `already_revoked` when it was revoked before.',
      schema: RevocationSchema.extend({ already_revoked: z.boolean() }),
      example: {
        capability_id: exampleCapability.id,
        issuer: exampleCapability.issuer,
        expires_at: exampleCapability.expires_at,
        revoked_at: '2026-05-01T12:00:00.000Z',
        reason: 'laptop lost',
        already_revoked: false,
      },
    },
  },
  errors: ['not_found', 'store_unavailable'],
  examples: {
    revoke: {
      summary: 'With a reason',
      params: { id: exampleCapability.id },
      body: { reason: 'laptop lost' },
    },
  },
});

const revocationFeedDoc = describeRoute({
  tag: 'federation',
  summary: 'This node’s capability revocations, as a feed',
  description:
    'Only revocations of capabilities this node issued, in insertion order; a peer pulls it after each facts ' +
    `pull and keeps the cursor. Pages of \`limit\` (1–${REVOCATION_PAGE_SIZE}).`,
  query: revocationFeedQuery,
  responses: {
    200: {
      description: 'One page.',
      schema: z.strictObject({
        revocations: z.array(RevocationSchema),
        cursor: z.string(),
        more: z.boolean(),
      }),
      example: { revocations: [], cursor: '0', more: false },
    },
  },
  errors: ['store_unavailable'],
  examples: { first: { summary: 'From the start', query: { limit: '100' } } },
});

export interface CapabilityRouteDeps {
  service: CapabilityService;
}

export function registerCapabilityRoutes(app: FastifyInstance, deps: CapabilityRouteDeps): void {
  const { service } = deps;

  app.post('/v1/capabilities', { config: { ...ADMIN, openapi: issueDoc } }, async (request, reply) => {
    const body = parseInput(IssueBody, request.body ?? {});
    const issued = await service.issue(
      {
        subject: body.subject,
        verb: body.verb,
        object: body.object,
        ...(body.expires_at !== undefined ? { expires_at: body.expires_at } : {}),
        ...(body.ttl_seconds !== undefined ? { ttl_seconds: body.ttl_seconds } : {}),
        ...(body.cnf ? { cert_sha256: body.cnf['x5t#S256'] } : {}),
      },
      request.principal?.entityUri,
    );
    // The token is a bearer credential: never cached by a proxy or a browser.
    return reply.status(201).header('cache-control', 'no-store').send(issued);
  });

  // A verdict, not an authorization: 200 with {valid} either way, the reason when refused.
  // Verifying costs signature checks and possibly a manifest fetch: counted like a read.
  app.post(
    '/v1/capabilities/verify',
    { config: { access: 'read', quota: 'fact_read', openapi: verifyDoc } },
    async (request) => {
      const body = parseInput(VerifyBody, request.body ?? {});
      // The client certificate of this request (direct, or forwarded by a trusted proxy and verified).
      return service.verify(
        body.token,
        {
          ...(body.verb !== undefined ? { verb: body.verb } : {}),
          ...(body.object !== undefined ? { object: body.object } : {}),
        },
        request.peer ? thumbprintOf(request.peer) : null,
      );
    },
  );

  app.post<{ Params: { id: string } }>(
    '/v1/capabilities/:id/revoke',
    { config: { ...ADMIN, openapi: revokeDoc } },
    async (request) => {
      const body = parseInput(RevokeBody, request.body ?? {});
      const { revocation, alreadyRevoked } = await service.revoke(
        request.params.id,
        body.reason ?? null,
        request.principal?.entityUri,
      );
      return { ...revocation, already_revoked: alreadyRevoked };
    },
  );
}

/** GET /v1/federation/revocations?cursor&limit on the federation listener, for approved peers. */
export function registerRevocationFeedRoute(
  app: FastifyInstance,
  deps: { store: CapabilityStore; selfEntityUri: string },
): void {
  app.get(
    FEDERATION_PATHS.revocations,
    { config: { access: 'peer', openapi: revocationFeedDoc } },
    async (request) => revocationFeed(deps.store, deps.selfEntityUri, request.query),
  );
}
