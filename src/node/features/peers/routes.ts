// Admin API for peers: add (fetch + prove the manifest), list, approve (with the out-of-band fingerprint),
// revoke. The CLI's `tessera peers …` calls these.
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { SCOPES } from '../../../store/ports/facts.ts';
import type { PeerRecord } from '../../../store/ports/peers.ts';
import { component } from '../../http/openapi/components.ts';
import { describeRoute } from '../../http/openapi/route-doc.ts';
import { parseInput } from '../../validate.ts';
import type { ClockReading } from '../federation/peer-clocks.ts';
import type { PeerReplication } from '../federation/puller.ts';
import type { PeerDirectory } from './peer-directory.ts';
import type { PeerService } from './peer-service.ts';

const addBody = z.strictObject({ url: z.string().min(1).max(2048) });
const approveBody = z.strictObject({
  fingerprint: z.string().min(1).max(200),
  allowed_scopes: z.array(z.string()).max(4).optional(),
  allowed_cidrs: z.array(z.string().max(64)).max(64).optional().meta({
    description:
      'CIDR networks its federation requests must come from (the client address; behind a trusted proxy, the forwarded one); [] removes the allowlist.',
  }),
});

const peerSchema = component(
  'Peer',
  z.strictObject({
    id: z.string().meta({ description: 'Local id (UUID).' }),
    entity_uri: z.string().meta({ description: 'Proven by its manifest and its TLS certificate’s URI SAN.' }),
    federation_url: z.string(),
    key_id: z.string(),
    fingerprint: z.string().meta({ description: '`sha256:<hex>` of its node key: compare it out of band.' }),
    tls_spki_sha256: z.string(),
    status: z.enum(['pending', 'approved', 'revoked']),
    allowed_scopes: z.array(z.enum(SCOPES)).meta({ description: 'What it may receive from this node.' }),
    allowed_cidrs: z
      .array(z.string())
      .optional()
      .meta({ description: 'Where its federation requests must come from; absent: anywhere.' }),
    created_at: z.string(),
    updated_at: z.string(),
    replication: z
      .strictObject({
        degraded: z
          .string()
          .nullable()
          .meta({ description: 'Why the last pull was not clean; null when healthy.' }),
        failures: z.number().int().nonnegative().meta({ description: 'Failed or unclean pulls in a row.' }),
        last_success_at: z.string().nullable().meta({ description: 'The last clean pull.' }),
        last_error: z
          .strictObject({ reason: z.string(), detail: z.string(), at: z.string().nullable() })
          .nullable()
          .meta({ description: 'The last failed pull (kept after recovery).' }),
        next_pull_at: z.string().nullable(),
        facts_behind: z
          .number()
          .int()
          .nonnegative()
          .nullable()
          .meta({ description: 'Facts the peer said were still waiting; null when it does not say.' }),
      })
      .optional()
      .meta({ description: 'How pulling from it goes (in the list).' }),
    clock: z
      .strictObject({
        skew_seconds: z.number(),
        uncertainty_seconds: z.number(),
        source: z.enum(['http_date', 'token_iat']),
        at: z.string(),
      })
      .nullable()
      .optional()
      .meta({ description: 'Its clock skew as last estimated (positive: ahead of ours); null until known.' }),
  }),
);

const examplePeer = {
  id: '0b6f2a52-3c1e-4f7a-9d55-6c1a2b3c4d5e',
  entity_uri: 'spiffe://example.org/node/b',
  federation_url: 'https://node-b.example.org:8765',
  key_id: '9f86d081884c7d65',
  fingerprint: `sha256:${'4e7e'.repeat(16)}`,
  tls_spki_sha256: 'c'.repeat(64),
  status: 'approved',
  allowed_scopes: ['company', 'public'],
  created_at: '2026-05-01T10:00:00.000Z',
  updated_at: '2026-05-01T10:05:00.000Z',
} as const;

const TAG = 'peers';
const peerIdParams = z.strictObject({ id: z.string().meta({ description: 'The peer’s local id.' }) });

const addPeerDoc = describeRoute({
  tag: TAG,
  summary: 'Add a peer',
  description:
    'Fetches the manifest at the federation URL over mutual TLS, verifies its signature and that the ' +
    'certificate presented carries its entity URI, and stores the peer `pending`. Approve it after comparing ' +
    'the fingerprint with its operator.',
  body: addBody,
  responses: {
    201: {
      description: 'Added, pending.',
      schema: peerSchema,
      example: { ...examplePeer, status: 'pending' },
    },
  },
  errors: [
    'peer_exists',
    'peer_is_self',
    'peer_manifest_refused',
    'federation_disabled',
    'store_unavailable',
  ],
  examples: { add: { summary: 'A node’s federation URL', body: { url: examplePeer.federation_url } } },
});

const listPeersDoc = describeRoute({
  tag: TAG,
  summary: 'List peers',
  responses: {
    200: {
      description: 'Every peer, with how replication from it goes.',
      schema: z.strictObject({ peers: z.array(peerSchema) }),
      example: {
        peers: [
          {
            ...examplePeer,
            replication: {
              degraded: null,
              failures: 0,
              last_success_at: '2026-05-01T10:06:00.000Z',
              last_error: null,
              next_pull_at: '2026-05-01T10:06:30.000Z',
              facts_behind: 0,
            },
            clock: {
              skew_seconds: 0.4,
              uncertainty_seconds: 0.05,
              source: 'http_date',
              at: '2026-05-01T10:06:00.000Z',
            },
          },
        ],
      },
    },
  },
});

const approvePeerDoc = describeRoute({
  tag: TAG,
  summary: 'Approve a peer',
  description:
    'Needs the fingerprint of its key as its operator gave it. Again on an approved peer: changes its ' +
    'scopes (`company`, `public`, `team`; never `local`).',
  params: peerIdParams,
  body: approveBody,
  responses: { 200: { description: 'Approved.', schema: peerSchema, example: examplePeer } },
  errors: ['not_found', 'fingerprint_mismatch', 'peer_revoked', 'store_unavailable'],
  examples: {
    approve: {
      summary: 'Approve with the fingerprint compared out of band',
      params: { id: examplePeer.id },
      body: { fingerprint: examplePeer.fingerprint },
    },
    scopes: {
      summary: 'Also send it team facts',
      params: { id: examplePeer.id },
      body: { fingerprint: examplePeer.fingerprint, allowed_scopes: ['company', 'public', 'team'] },
    },
  },
});

const revokePeerDoc = describeRoute({
  tag: TAG,
  summary: 'Revoke a peer',
  description: 'For good: its open connections close at once and its handshakes are refused.',
  params: peerIdParams,
  responses: {
    200: { description: 'Revoked.', schema: peerSchema, example: { ...examplePeer, status: 'revoked' } },
  },
  errors: ['not_found', 'store_unavailable'],
  examples: { revoke: { summary: 'Revoke', params: { id: examplePeer.id } } },
});

/** The wire form of a peer (snake_case, like the rest of the API). */
export function peerView(peer: PeerRecord, replication?: PeerReplication, clock?: ClockReading | null) {
  return {
    id: peer.id,
    entity_uri: peer.entityUri,
    federation_url: peer.federationUrl,
    key_id: peer.keyId,
    fingerprint: peer.fingerprint,
    tls_spki_sha256: peer.tlsSpkiSha256,
    status: peer.status,
    allowed_scopes: peer.allowedScopes,
    ...(peer.allowedCidrs ? { allowed_cidrs: peer.allowedCidrs } : {}),
    created_at: peer.createdAt,
    updated_at: peer.updatedAt,
    ...(replication ? { replication: replicationView(replication) } : {}),
    ...(clock === undefined ? {} : { clock: clock && clockView(clock) }),
  };
}

/** A peer's clock as last estimated: skew (positive: ahead of ours) and its uncertainty, in seconds. */
export function clockView(clock: ClockReading) {
  return {
    skew_seconds: Math.round(clock.skewMs) / 1000,
    uncertainty_seconds: Math.round(clock.uncertaintyMs) / 1000,
    source: clock.source,
    at: new Date(clock.atMs).toISOString(),
  };
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** How replication from the peer is going, in the wire's form (snake_case, RFC 3339 times). */
export function replicationView(replication: PeerReplication) {
  const { lastError } = replication;
  return {
    degraded: replication.degraded,
    failures: replication.failures,
    last_success_at: iso(replication.lastSuccessAt),
    last_error: lastError
      ? { reason: lastError.reason, detail: lastError.detail, at: iso(lastError.at) }
      : null,
    next_pull_at: iso(replication.nextPullAt),
    facts_behind: replication.factsBehind,
  };
}

const ADMIN = { access: 'admin', quota: 'admin' } as const;

const peerDetail = (body: Record<string, unknown>) => ({
  peer_id: body.id,
  entity_uri: body.entity_uri,
  fingerprint: body.fingerprint,
  status: body.status,
  allowed_scopes: body.allowed_scopes,
});

export function registerPeerRoutes(
  app: FastifyInstance,
  deps: {
    service: PeerService;
    peers: PeerDirectory;
    replication?: (peerId: string) => PeerReplication;
    /** The peer's clock as last estimated (by entity URI). */
    clockOf?: (entityUri: string) => ClockReading | undefined;
  },
): void {
  const audited = (status: number, event: 'peer_added' | 'peer_approved' | 'peer_revoked') => ({
    access: 'admin' as const,
    quota: 'admin' as const,
    audit: { status, event, detail: peerDetail },
  });
  app.post(
    '/v1/admin/peers',
    { config: { ...audited(201, 'peer_added'), openapi: addPeerDoc } },
    async (request, reply) => {
      const { url } = parseInput(addBody, request.body ?? {});
      return reply.status(201).send(peerView(await deps.service.add(url)));
    },
  );
  app.get('/v1/admin/peers', { config: { ...ADMIN, openapi: listPeersDoc } }, async () => ({
    peers: deps.peers
      .list()
      .map((peer) => peerView(peer, deps.replication?.(peer.id), deps.clockOf?.(peer.entityUri) ?? null)),
  }));
  app.post<{ Params: { id: string } }>(
    '/v1/admin/peers/:id/approve',
    { config: { ...audited(200, 'peer_approved'), openapi: approvePeerDoc } },
    async (request) => {
      const body = parseInput(approveBody, request.body ?? {});
      return peerView(
        await deps.service.approve(
          request.params.id,
          body.fingerprint,
          body.allowed_scopes,
          body.allowed_cidrs,
        ),
      );
    },
  );
  app.post<{ Params: { id: string } }>(
    '/v1/admin/peers/:id/revoke',
    { config: { ...audited(200, 'peer_revoked'), openapi: revokePeerDoc } },
    async (request) => peerView(await deps.service.revoke(request.params.id)),
  );
}
