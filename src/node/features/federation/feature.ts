// Federation: the feed and wake routes peers call (behind the peer gate: certificate AND token of an
// approved peer), and replication: the puller drains every approved peer's feed, the waker tells peers
// to pull after local changes. Reacts to the node's events: writes, revocations and key rotations wake
// the peers; an approval starts pulling at once; a revoked peer is forgotten.

import type { PeerRecord } from '../../../store/ports/peers.ts';
import { createLogSampler } from '../../../tls/log-sampler.ts';
import type { NodeContext } from '../../app/context.ts';
import { subscribe } from '../../app/events.ts';
import type { Feature } from '../../app/feature.ts';
import { NodeError } from '../../errors.ts';
import type { FactService } from '../facts/service.ts';
import type { SignedManifest } from '../identity/manifest.ts';
import { quotaExceeded } from '../quotas/quota-hook.ts';
import type { Quotas } from '../quotas/quotas.ts';
import type { PeerKeyTrust } from '../rotation/peer-key-trust.ts';
import { type FederationAuthDeps, installPeerAuth, PeerAuthenticator } from './authenticate.ts';
import { createGrpcFederationService, type GrpcFederationService } from './grpc/grpc-federation-service.ts';
import { OriginVerifier } from './origin-verifier.ts';
import { Puller } from './puller.ts';
import { registerFederationRoutes } from './routes.ts';
import { Waker } from './waker.ts';
import type { PeerWire } from './wire.ts';

/** The store channel a peer's wake travels on to every replica of this node (payload: the peer's id). */
const WAKE_CHANNEL = 'pull_wake';

export interface FederationFeatureDeps {
  wire: PeerWire;
  facts: FactService;
  quotas: Quotas;
  trust: PeerKeyTrust;
  /** Run after each complete pull from a peer (revocations, manifest refresh); errors are logged only. */
  afterPull: ((peer: PeerRecord) => Promise<void>)[];
  /** The signed manifest (served by the gRPC listener's Manifest call). */
  manifest(): SignedManifest;
}

export function federationFeature(
  ctx: NodeContext,
  deps: FederationFeatureDeps,
): Feature & { puller: Puller; auth: FederationAuthDeps; grpc: GrpcFederationService | null } {
  const { config, store, peers, logger, clock, audit, sample, events } = ctx;
  const { client } = deps.wire;
  const puller = new Puller({
    metrics: ctx.metrics,
    store,
    facts: deps.facts,
    origins: new OriginVerifier({ peers, trust: deps.trust, clock }),
    peers,
    client,
    intervalMs: config.pullIntervalMs,
    logger,
    selfEntityUri: config.entityUri,
    maxPagesPerCycle: config.pull.maxPagesPerCycle,
    maxCycleMs: config.pull.maxCycleMs,
    now: () => clock().getTime(),
    peerSkewMs: (entityUri) => ctx.peerClocks.get(entityUri)?.skewMs,
    onHealth: (peer, reason) => {
      if (reason) {
        logger.warn(
          { event: 'federation_peer_degraded', peer: peer.entityUri, reason },
          'replication from a peer is degraded',
        );
        void audit.note('federation_peer_degraded', peer.entityUri, { reason });
      } else
        logger.info(
          { event: 'federation_peer_recovered', peer: peer.entityUri },
          'replication from a peer recovered',
        );
    },
    afterCycle: async (peer) => {
      for (const after of deps.afterPull) await after(peer);
    },
    onIngested: () => events.emit('facts_ingested'),
    onStream: (delta) => ctx.metrics.grpcStreams.inc({ role: 'receiver' }, delta),
  });
  const sampleLog = createLogSampler();
  const waker = new Waker({ peers, client, debounceMs: config.wakeDebounceMs, logger });
  const auth: FederationAuthDeps = {
    store,
    peers,
    selfEntityUri: config.entityUri,
    requireMtls: ctx.credentials !== null,
    clock,
    trust: deps.trust,
    onTokenVerified: (peer, issuedAt, receivedMs) => ctx.peerClocks.fromTokenIat(peer, issuedAt, receivedMs),
    onRejected: (reason, detail) => {
      ctx.metrics.federationRejections.inc({ reason });
      if (sample(`federation_rejected:${reason}`))
        void audit.note('federation_rejected', null, { reason, detail });
      // Anyone can send refused requests at will: counted always, logged a few lines a second per reason.
      const { log, suppressed } = sampleLog(`federation_rejected:${reason}`);
      if (log)
        logger.warn(
          { event: 'federation_rejected', reason, detail, ...(suppressed ? { suppressed } : {}) },
          `federation request refused: ${reason}`,
        );
    },
  };
  // Through the store, so the replica that pulls from this peer hears it whichever replica the peer
  // reached (NOTIFY on PostgreSQL; this process on SQLite). If that fails, at least this one pulls.
  const onWake = (peerId: string) => void store.notify(WAKE_CHANNEL, peerId).catch(() => puller.wake(peerId));
  const grpc = config.grpc
    ? createGrpcFederationService({
        auth: new PeerAuthenticator(auth),
        feed: { store, reforward: config.reforward, selfEntityUri: config.entityUri },
        peers,
        events,
        manifest: deps.manifest,
        onWake,
        takeQuota: async (peerEntityUri) => {
          const decision = await deps.quotas.takeFederationPull(peerEntityUri);
          if (!decision.allowed)
            throw new NodeError(
              'quota_exceeded',
              `federation pull quota spent; retry in ${Math.ceil(decision.retryAfterMs / 1000)} s`,
            );
        },
        sendBufferPages: config.grpc.sendBufferPages,
        stallTimeoutMs: config.grpc.stallTimeoutMs,
        metrics: ctx.metrics,
        logger,
      })
    : null;
  // Push (TESSERA_FEDERATION_PUSH_ENABLED): without it peers learn of changes on their pull interval.
  const wake = config.pushEnabled ? () => waker.notify() : () => {};
  const onApproved = (peer: PeerRecord) => {
    puller.wake(peer.id);
    // If the peer approved us earlier, its pulls were refused until now: tell it to pull at once.
    if (config.pushEnabled) void client.wake(peer).catch(() => undefined);
  };
  const onRevoked = (peer: PeerRecord) => {
    puller.forget(peer.id);
    ctx.peerClocks.forget(peer.entityUri);
  };
  let pruneTimer: NodeJS.Timeout | undefined;
  let unsubscribe = () => {};
  let unsubscribeWakes = () => {};
  return {
    name: 'federation',
    puller,
    auth,
    grpc,
    federationHooks: (app) => installPeerAuth(app, auth),
    federation: async (app) =>
      registerFederationRoutes(app, {
        ...auth,
        reforward: config.reforward,
        onWake,
        takeQuota: async (peerEntityUri, reply) => {
          const decision = await deps.quotas.takeFederationPull(peerEntityUri);
          if (!decision.allowed) throw quotaExceeded(decision, reply);
        },
      }),
    start() {
      // A single node (TESSERA_FEDERATION_ENABLED=false) neither pulls nor wakes anyone.
      if (!config.federationEnabled) return;
      unsubscribe = subscribe(events, {
        fact_written: wake,
        capability_revoked: wake,
        node_key_rotated: wake,
        peer_approved: onApproved,
        peer_revoked: onRevoked,
      });
      unsubscribeWakes = store.subscribe(WAKE_CHANNEL, (peerId) => puller.wake(peerId));
      puller.start();
      // Seen token ids are only needed until their tokens expire; kept a minute past expiry because
      // verification tolerates a few seconds of clock skew.
      pruneTimer = setInterval(() => {
        void store.pruneJtis(Math.floor(clock().getTime() / 1000) - 60).catch(() => undefined);
      }, 60_000);
      pruneTimer.unref();
    },
    async drain() {
      clearInterval(pruneTimer);
      unsubscribe();
      unsubscribeWakes();
      waker.close();
      grpc?.close();
      await puller.stop();
    },
    close: () => deps.wire.transport.close(),
  };
}
