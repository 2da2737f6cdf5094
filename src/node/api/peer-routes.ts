// Admin API for peers: add (fetch + prove the manifest), list, approve (with the out-of-band fingerprint),
// revoke. The CLI's `tessera peers …` calls these.
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { PeerRecord } from '../../store/ports/peers.ts';
import type { PeerDirectory } from '../federation/peer-directory.ts';
import type { PeerService } from '../federation/peer-service.ts';
import { parseInput } from '../validate.ts';

const addBody = z.strictObject({ url: z.string().min(1).max(2048) });
const approveBody = z.strictObject({
  fingerprint: z.string().min(1).max(200),
  allowed_scopes: z.array(z.string()).max(4).optional(),
});

/** The wire form of a peer (snake_case, like the rest of the API). */
export function peerView(peer: PeerRecord) {
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
  };
}

export function registerPeerRoutes(
  app: FastifyInstance,
  deps: { service: PeerService; peers: PeerDirectory },
): void {
  app.post('/v1/admin/peers', async (request, reply) => {
    const { url } = parseInput(addBody, request.body ?? {});
    return reply.status(201).send(peerView(await deps.service.add(url)));
  });
  app.get('/v1/admin/peers', async () => ({ peers: deps.peers.list().map(peerView) }));
  app.post<{ Params: { id: string } }>('/v1/admin/peers/:id/approve', async (request) => {
    const body = parseInput(approveBody, request.body ?? {});
    return peerView(await deps.service.approve(request.params.id, body.fingerprint, body.allowed_scopes));
  });
  app.post<{ Params: { id: string } }>('/v1/admin/peers/:id/revoke', async (request) =>
    peerView(await deps.service.revoke(request.params.id)),
  );
}
