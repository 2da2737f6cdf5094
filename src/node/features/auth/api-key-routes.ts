// Admin API for managed keys (the auth hook requires `admin` for all of these): create → the token, shown
// in this one response only; list → no secret and no hash, ever; delete → revoke (idempotent), which also
// drops the key from the verification cache at once.
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { Clock } from '../../../tls/clock.ts';
import { NodeError } from '../../errors.ts';
import { component } from '../../http/openapi/components.ts';
import { describeRoute } from '../../http/openapi/route-doc.ts';
import { parseInput } from '../../validate.ts';
import { isRfc3339DateTime } from '../facts/rfc3339.ts';
import { KEY_ID } from './api-key-token.ts';
import { type ApiKeys, keyStatus, type PublicApiKey } from './api-keys.ts';
import { confirmationSchema } from './cert-binding.ts';
import { ANONYMOUS, PERMISSIONS, type Principal } from './permissions.ts';

function isEntityUri(value: string): boolean {
  if (/[\s\p{Cc}]/u.test(value)) return false;
  try {
    return new URL(value).protocol.length > 1;
  } catch {
    return false;
  }
}

const createBody = z.strictObject({
  entity_uri: z
    .string()
    .min(1)
    .max(2048)
    .refine(isEntityUri, 'must be an absolute URI such as spiffe://example.org/agent/x'),
  permissions: z.array(z.enum(PERMISSIONS)).min(1).max(16),
  expires_at: z
    .string()
    .refine(isRfc3339DateTime, 'must be an RFC 3339 date-time such as 2027-01-01T00:00:00Z')
    .nullable()
    .optional(),
  description: z.string().max(500).nullable().optional(),
  cnf: confirmationSchema(
    'Bind the key to a client certificate (RFC 8705): it is then refused (401 certificate_binding_mismatch) on any request without that certificate, direct or forwarded by a trusted proxy.',
  ),
});

const apiKeySchema = component(
  'ApiKey',
  z.strictObject({
    id: z.string().meta({ description: 'The public key id (the `<id>` of `tsk_<id>_<secret>`).' }),
    entity_uri: z.string(),
    permissions: z.array(z.enum(PERMISSIONS)),
    expires_at: z.string().nullable(),
    description: z.string().nullable(),
    created_at: z.string(),
    revoked_at: z.string().nullable(),
    status: z.enum(['active', 'expired', 'revoked']),
    cnf: z
      .strictObject({ 'x5t#S256': z.string() })
      .optional()
      .meta({ description: 'Present when the key is bound to a client certificate.' }),
  }),
);
const createdKeySchema = apiKeySchema
  .omit({ revoked_at: true, status: true })
  .extend({ key: z.string().meta({ description: 'The token: shown in this response only.' }) });

const exampleKey = {
  id: '3f2a9c41d0be',
  entity_uri: 'spiffe://example.org/agent/reader',
  permissions: ['read'],
  expires_at: '2030-01-01T00:00:00Z',
  description: 'dashboard',
  created_at: '2026-05-01T10:00:00.000Z',
  revoked_at: null,
  status: 'active',
} as const;

const TAG = 'api-keys';

const createKeyDoc = describeRoute({
  tag: TAG,
  summary: 'Create an API key',
  description:
    'The token `tsk_<id>_<secret>` is in this response only (`Cache-Control: no-store`); the node keeps a ' +
    'scrypt hash. Permissions: `read`, `write`, `federate`, `admin`, `audit.read` (no hierarchy).',
  body: createBody,
  responses: {
    201: {
      description: 'Created: the key and, once, its token.',
      schema: createdKeySchema,
      example: {
        id: exampleKey.id,
        key: `tsk_${exampleKey.id}_${'x'.repeat(43)}`,
        entity_uri: exampleKey.entity_uri,
        permissions: exampleKey.permissions,
        expires_at: exampleKey.expires_at,
        description: exampleKey.description,
        created_at: exampleKey.created_at,
      },
    },
  },
  errors: ['api_key_exists', 'store_unavailable'],
  examples: {
    reader: {
      summary: 'A read-only key for a dashboard, expiring',
      body: {
        entity_uri: exampleKey.entity_uri,
        permissions: ['read'],
        expires_at: exampleKey.expires_at,
        description: exampleKey.description,
      },
    },
    writer: {
      summary: 'An agent that reads and writes facts',
      body: { entity_uri: 'spiffe://example.org/agent/x', permissions: ['read', 'write'] },
    },
  },
});

const listKeysDoc = describeRoute({
  tag: TAG,
  summary: 'List API keys',
  description: 'Every key, revoked and expired ones too; never a token or hash.',
  responses: {
    200: {
      description: 'The keys.',
      schema: z.strictObject({ keys: z.array(apiKeySchema) }),
      example: { keys: [exampleKey] },
    },
  },
  errors: ['store_unavailable'],
});

const revokeKeyDoc = describeRoute({
  tag: TAG,
  summary: 'Revoke an API key',
  description: 'Idempotent; the key stops working at once on every replica.',
  params: z.strictObject({ id: z.string().meta({ description: 'The key id (12 hex digits).' }) }),
  responses: {
    200: {
      description: 'The key, revoked.',
      schema: apiKeySchema,
      example: { ...exampleKey, revoked_at: '2026-05-02T10:00:00.000Z', status: 'revoked' },
    },
  },
  errors: ['not_found', 'store_unavailable'],
  examples: { revoke: { summary: 'Revoke a key', params: { id: exampleKey.id } } },
});

/** The wire form of a key (snake_case like the rest of the API); never a secret or hash. */
export function apiKeyView(key: PublicApiKey, nowMs: number) {
  return {
    id: key.id,
    entity_uri: key.entityUri,
    permissions: key.permissions,
    expires_at: key.expiresAt,
    description: key.description,
    created_at: key.createdAt,
    revoked_at: key.revokedAt,
    status: keyStatus(key, nowMs),
    ...(key.certSha256 ? { cnf: { 'x5t#S256': key.certSha256 } } : {}),
  };
}

export interface ApiKeyRouteDeps {
  apiKeys: ApiKeys;
  clock: Clock;
  /** For the audit log: a key was created (no secret in `key`) by `principal`. */
  onKeyCreated?(key: PublicApiKey, principal: Principal): void;
  /** For the audit log: key `id` was revoked by `principal` (not called when it already was). */
  onKeyRevoked?(id: string, principal: Principal): void;
}

const ADMIN = { access: 'admin', quota: 'admin' } as const;

export function registerApiKeyRoutes(app: FastifyInstance, deps: ApiKeyRouteDeps): void {
  const now = () => deps.clock().getTime();

  app.post('/v1/admin/api-keys', { config: { ...ADMIN, openapi: createKeyDoc } }, async (request, reply) => {
    const body = parseInput(createBody, request.body ?? {});
    // Date cannot represent a leap second (…:60): refused rather than silently shifted.
    if (body.expires_at && Number.isNaN(Date.parse(body.expires_at)))
      throw new NodeError('validation_failed', 'expires_at: a leap second cannot be an expiry time');
    if (body.expires_at && Date.parse(body.expires_at) <= now())
      throw new NodeError('validation_failed', 'expires_at: must be in the future');
    const { key, token } = await deps.apiKeys.create({
      entityUri: body.entity_uri,
      permissions: body.permissions,
      expiresAt: body.expires_at ?? null,
      description: body.description ?? null,
      certSha256: body.cnf?.['x5t#S256'],
    });
    deps.onKeyCreated?.(key, request.principal ?? ANONYMOUS);
    // The one place the token exists outside the client: not cacheable anywhere.
    reply.header('cache-control', 'no-store');
    const { id, entity_uri, permissions, expires_at, description, created_at, cnf } = apiKeyView(key, now());
    return reply.status(201).send({
      id,
      key: token,
      entity_uri,
      permissions,
      expires_at,
      description,
      created_at,
      ...(cnf ? { cnf } : {}),
    });
  });

  app.get('/v1/admin/api-keys', { config: { ...ADMIN, openapi: listKeysDoc } }, async () => ({
    keys: (await deps.apiKeys.list()).map((key) => apiKeyView(key, now())),
  }));

  app.delete<{ Params: { id: string } }>(
    '/v1/admin/api-keys/:id',
    { config: { ...ADMIN, openapi: revokeKeyDoc } },
    async (request) => {
      const { id } = request.params;
      const result = KEY_ID.test(id) ? await deps.apiKeys.revoke(id) : null;
      if (!result) throw new NodeError('not_found', `no API key with id ${JSON.stringify(id.slice(0, 64))}`);
      if (result.revoked) deps.onKeyRevoked?.(id, request.principal ?? ANONYMOUS);
      return apiKeyView(result.key, now());
    },
  );
}
