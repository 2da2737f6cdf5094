// Capabilities: tokens this node issues (signed by its issuer key) and verifies (ours, or a peer's issuer
// keys from its manifest), revocations served to peers on the federation listener and pulled from them
// after every facts pull. A revocation is announced so peers are woken to fetch it at once.

import type { PeerRecord } from '../../../store/ports/peers.ts';
import type { NodeContext } from '../../app/context.ts';
import type { Feature } from '../../app/feature.ts';
import type { FederationClient } from '../federation/client.ts';
import type { PeerKeyTrust } from '../rotation/peer-key-trust.ts';
import { issuerKeyResolver } from './issuer-keys.ts';
import { federationRevocationFetcher, pullRevocations } from './revocations.ts';
import { registerCapabilityRoutes, registerRevocationFeedRoute } from './routes.ts';
import { CapabilityService } from './service.ts';

export function capabilitiesFeature(
  ctx: NodeContext,
  deps: { trust: PeerKeyTrust; client: FederationClient },
): Feature & { pullRevocationsOf(peer: PeerRecord): Promise<void> } {
  const { config, store, keys, audit, clock } = ctx;
  const service = new CapabilityService({
    store,
    selfEntityUri: config.entityUri,
    issuerKey: () => keys.issuerRing.current(),
    issuerKeys: issuerKeyResolver({
      selfEntityUri: config.entityUri,
      issuerRing: keys.issuerRing,
      peers: ctx.peers,
      trust: deps.trust,
    }),
    clock,
    onIssued: (capability, principal) =>
      void audit.note('capability_issued', principal ?? null, {
        capability_id: capability.id,
        subject: capability.subject,
        verb: capability.verb,
        object: capability.object,
        expires_at: capability.expires_at,
      }),
    onRevoked: (revocation, principal) => {
      void audit.note('capability_revoked', principal ?? null, {
        capability_id: revocation.capability_id,
        reason: revocation.reason,
      });
      ctx.events.emit('capability_revoked');
    },
  });
  return {
    name: 'capabilities',
    async pullRevocationsOf(peer) {
      await pullRevocations({ store, peer, fetchPage: federationRevocationFetcher(deps.client, peer) });
    },
    api: async (app) => registerCapabilityRoutes(app, { service }),
    federation: async (app) => registerRevocationFeedRoute(app, { store, selfEntityUri: config.entityUri }),
  };
}
