// Admin API for peers: add (fetch + prove the manifest), list, approve (with the out-of-band fingerprint),
// revoke. The CLI's `tessera peers …` calls these.
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { PeerRecord } from '../../../store/ports/peers.ts';
import { parseInput } from '../../validate.ts';
import type { ClockReading } from '../federation/peer-clocks.ts';
import type { PeerReplication } from '../federation/puller.ts';
import type { PeerDirectory } from './peer-directory.ts';
import type { PeerService } from './peer-service.ts';

const addBody = z.strictObject({ url: z.string().min(1).max(2048) });
const approveBody = z.strictObject({
  fingerprint: z.string().min(1).max(200),
  allowed_scopes: z.array(z.string()).max(4).optional(),
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
  app.post('/v1/admin/peers', { config: audited(201, 'peer_added') }, async (request, reply) => {
    const { url } = parseInput(addBody, request.body ?? {});
    return reply.status(201).send(peerView(await deps.service.add(url)));
  });
  app.get('/v1/admin/peers', { config: ADMIN }, async () => ({
    peers: deps.peers
      .list()
      .map((peer) => peerView(peer, deps.replication?.(peer.id), deps.clockOf?.(peer.entityUri) ?? null)),
  }));
  app.post<{ Params: { id: string } }>(
    '/v1/admin/peers/:id/approve',
    { config: audited(200, 'peer_approved') },
    async (request) => {
      const body = parseInput(approveBody, request.body ?? {});
      return peerView(await deps.service.approve(request.params.id, body.fingerprint, body.allowed_scopes));
    },
  );
  app.post<{ Params: { id: string } }>(
    '/v1/admin/peers/:id/revoke',
    { config: audited(200, 'peer_revoked') },
    async (request) => peerView(await deps.service.revoke(request.params.id)),
  );
}
