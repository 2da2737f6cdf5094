// Peers: the admin API that adds a peer (its manifest fetched and bound to its certificate), approves it
// (after the operator compares the key fingerprint out of band) and revokes it. Approvals and revocations
// are announced on the node's events; federation and the federation listener act on them.
import type { NodeContext } from '../../app/context.ts';
import type { Feature } from '../../app/feature.ts';
import type { PeerReplication } from '../federation/puller.ts';
import type { PeerWire } from '../federation/wire.ts';
import { PeerService } from './peer-service.ts';
import { registerPeerRoutes } from './routes.ts';

export function peersFeature(
  ctx: NodeContext,
  wire: Pick<PeerWire, 'fetchManifest'>,
  /** How replication from each peer is going (shown in the list). */
  replication?: (peerId: string) => PeerReplication,
): Feature & { service: PeerService } {
  const service = new PeerService({
    peers: ctx.peers,
    selfEntityUri: ctx.config.entityUri,
    federationEnabled: ctx.config.federationEnabled,
    clock: ctx.clock,
    fetchManifest: (url) => wire.fetchManifest(url),
    onApproved: (peer) => ctx.events.emit('peer_approved', peer),
    onRevoked: (peer) => ctx.events.emit('peer_revoked', peer),
  });
  return {
    name: 'peers',
    service,
    api: async (app) =>
      registerPeerRoutes(app, {
        service,
        peers: ctx.peers,
        clockOf: (uri) => ctx.peerClocks.get(uri),
        ...(replication ? { replication } : {}),
      }),
  };
}
