// The node, assembled: this file is its table of contents. The context opens what everything shares
// (settings, TLS credentials, store, keys, peers, audit log, events); each feature builds its service and
// brings its hooks and routes; the two listeners mount the features; the lifecycle starts them in order.
// A new capability is a new feature in this list (or passed in `features`), not an edit in the middle.
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { Store } from '../../store/store.ts';
import { type Clock, systemClock } from '../../tls/clock.ts';
import { apiDocsFeature } from '../features/api-docs/feature.ts';
import { auditFeature } from '../features/audit/feature.ts';
import { type AuthFeatureOptions, authFeature } from '../features/auth/feature.ts';
import { capabilitiesFeature } from '../features/capabilities/feature.ts';
import { factLogFeature } from '../features/fact-log/feature.ts';
import { factsFeature } from '../features/facts/feature.ts';
import { federationFeature } from '../features/federation/feature.ts';
import type { PeerTransport } from '../features/federation/peer-transport.ts';
import type { Puller } from '../features/federation/puller.ts';
import { createPeerWire } from '../features/federation/wire.ts';
import { healthFeature } from '../features/health/feature.ts';
import { identityFeature } from '../features/identity/feature.ts';
import { peersFeature } from '../features/peers/feature.ts';
import type { PeerDirectory } from '../features/peers/peer-directory.ts';
import { quotasFeature } from '../features/quotas/feature.ts';
import { recallFeature } from '../features/recall/feature.ts';
import { loadPeerKeyTrust, rotationFeature } from '../features/rotation/feature.ts';
import { statusFeature } from '../features/status/feature.ts';
import type { NodeConfig } from '../settings/config.ts';
import { createApiListener } from './api-listener.ts';
import { type NodeContext, openContext } from './context.ts';
import type { Feature } from './feature.ts';
import { createFederationListener } from './federation-listener.ts';
import { createGrpcFederationListener } from './grpc-federation-listener.ts';
import { Lifecycle } from './lifecycle.ts';

export interface StartNodeOptions {
  logger: Logger;
  clock?: Clock;
  /** More features, mounted after the node's own (embedding, tests). */
  features?: Feature[];
  auth?: AuthFeatureOptions;
  /** The wire to peers; default the HTTPS adapter over the node's credentials (a gRPC adapter plugs in here). */
  peerTransport?: (ctx: NodeContext) => PeerTransport;
}

export interface TesseraNode {
  entityUri: string;
  apiUrl: string;
  federationUrl: string;
  /** The advertised gRPC federation endpoint (`host:port`); null without a gRPC listener. */
  readonly grpcEndpoint: string | null;
  store: Store;
  peers: PeerDirectory;
  puller: Puller;
  /** The listeners' Fastify apps (for `inject` in tests and embedding); no federation app on a single node. */
  api: FastifyInstance;
  federation: FastifyInstance | null;
  /** The node's metrics registry (what /metrics serves). */
  metrics: Registry;
  /** Reads the TLS material and key rings again now (as SIGHUP does). */
  reload(): Promise<void>;
  close(): Promise<void>;
}

/** Assembles a node without opening its ports. */
export async function buildNode(config: NodeConfig, options: StartNodeOptions) {
  const lifecycle = new Lifecycle();
  return lifecycle.build(async () => {
    const ctx = await openContext(
      config,
      { logger: options.logger, clock: options.clock ?? systemClock },
      lifecycle,
    );
    const wire = createPeerWire(ctx, options.peerTransport?.(ctx));
    // Released on a failed build too (closing twice is harmless).
    lifecycle.holds(() => wire.transport.close());
    const trust = await loadPeerKeyTrust(ctx, wire.fetchManifest);
    const identity = identityFeature(ctx);
    lifecycle.holds(() => identity.signer.close());
    const quotas = quotasFeature(ctx);
    const facts = await factsFeature(ctx);
    const factLog = factLogFeature(ctx);
    const capabilities = capabilitiesFeature(ctx, { trust, client: wire.client });
    const rotation = rotationFeature(ctx, { signer: identity.signer, trust });
    const federation = federationFeature(ctx, {
      wire,
      facts: facts.service,
      quotas: quotas.quotas,
      trust,
      afterPull: [
        (peer) => capabilities.pullRevocationsOf(peer),
        (peer) => rotation.refreshPeerKeys(peer),
        () => factLog.catchUp(),
      ],
      manifest: () => identity.signer.manifest(),
    });
    const features: Feature[] = [
      healthFeature(ctx), // request metrics first: refused requests are counted too
      authFeature(ctx, options.auth), // who is calling
      quotas, // how much they may
      auditFeature(ctx), // what they did
      identity,
      facts,
      factLog,
      recallFeature(ctx, { factLog: factLog.factLog }),
      peersFeature(ctx, wire, (peerId) => federation.puller.health(peerId)),
      capabilities,
      federation,
      rotation,
      statusFeature(ctx, {
        replication: (peerId) => federation.puller.health(peerId),
        quotas: quotas.quotas,
      }),
      apiDocsFeature(ctx), // records every route of both listeners, whichever feature registers it
      ...(options.features ?? []),
    ];
    // TESSERA_FEDERATION_ENABLED=false: a single node, nothing listens for peers.
    const federationListener = config.federationEnabled
      ? await createFederationListener(ctx, features)
      : null;
    if (federationListener) lifecycle.holds(() => federationListener.app.close());
    // TESSERA_FEDERATION_GRPC_PORT: replication streams to peers that offer gRPC too.
    const grpcListener =
      federationListener && config.grpc && federation.grpc
        ? createGrpcFederationListener(ctx, config.grpc, federation.grpc)
        : null;
    if (grpcListener) lifecycle.holds(() => grpcListener.close());
    const apiListener = await createApiListener(ctx, features);
    lifecycle.holds(() => apiListener.app.close());
    const node: TesseraNode = {
      entityUri: config.entityUri,
      get apiUrl() {
        return apiListener.url;
      },
      get federationUrl() {
        return ctx.nodeUrl;
      },
      get grpcEndpoint() {
        return ctx.grpcEndpoint;
      },
      store: ctx.store,
      peers: ctx.peers,
      puller: federation.puller,
      api: apiListener.app,
      federation: federationListener?.app ?? null,
      metrics: ctx.registry,
      reload: () => lifecycle.reload(),
      close: () => lifecycle.close(),
    };
    // Federation listens first: a port-0 bind fixes the URL the manifest and well-known documents advertise.
    lifecycle.assembled(features, [
      ...(federationListener ? [federationListener] : []),
      ...(grpcListener ? [grpcListener] : []),
      apiListener,
    ]);
    return { node, start: () => lifecycle.start() };
  });
}

/** Assembles the node and opens its ports: federation first (its URL is advertised), then the API. */
export async function startNode(config: NodeConfig, options: StartNodeOptions): Promise<TesseraNode> {
  const { node, start } = await buildNode(config, options);
  await start();
  return node;
}
