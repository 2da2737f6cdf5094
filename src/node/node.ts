// The federated node: composes the store, the node key and manifest, the facts service, the peers and
// replication onto two listeners. Federation listener: mTLS (or the dev-only insecure gate), only
// /.well-known/* and /v1/federation/*. API listener: facts and admin with API keys, plus health/metrics.
import { randomUUID } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import type { Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyHttpsOptions, type FastifyInstance, type FastifyServerOptions } from 'fastify';
import type { Logger } from 'pino';
import { openSqliteStore } from '../store/sqlite/open.ts';
import { databasePath } from '../store/sqlite/paths.ts';
import type { Store } from '../store/store.ts';
import { allOf, allow as allowAll, deny, denyList } from '../tls/authorize.ts';
import { type Clock, systemClock } from '../tls/clock.ts';
import { CredentialSource } from '../tls/credential-source.ts';
import { ExpiryMonitor } from '../tls/expiry.ts';
import { followCredentials } from '../tls/follow.ts';
import type { Material } from '../tls/material.ts';
import { serverTlsOptions } from '../tls/policy.ts';
import { createMtlsServer } from '../transport/https-server.ts';
import { installAuditTrail } from './features/audit/audit-trail.ts';
import { registerHealthRoutes } from './features/health/routes.ts';
import { registerPeerRoutes } from './features/peers/routes.ts';
import { installRequestMetrics } from './features/health/request-metrics.ts';
import { AuditLog } from './features/audit/audit-log.ts';
import { registerAuditRoutes } from './features/audit/routes.ts';
import { auditSampler } from './features/audit/sampler.ts';
import { registerApiKeyRoutes } from './features/auth/api-key-routes.ts';
import { ApiKeys } from './features/auth/api-keys.ts';
import { installApiAuth } from './features/auth/auth-hook.ts';
import { createFailureLimiter } from './features/auth/failure-limiter.ts';
import { issuerKeyResolver } from './features/capabilities/issuer-keys.ts';
import { federationRevocationFetcher, pullRevocations } from './features/capabilities/revocations.ts';
import { registerCapabilityRoutes, registerRevocationFeedRoute } from './features/capabilities/routes.ts';
import { CapabilityService } from './features/capabilities/service.ts';
import type { NodeConfig } from './settings/config.ts';
import { HybridClock } from './features/facts/hlc.ts';
import { registerFactRoutes } from './features/facts/routes.ts';
import { FactService } from './features/facts/service.ts';
import { type FederationAuthDeps, installPeerAuth } from './features/federation/authenticate.ts';
import { FederationClient } from './features/federation/client.ts';
import { HttpsPeerTransport } from './features/federation/https/https-peer-transport.ts';
import { PeerDirectory } from './features/peers/peer-directory.ts';
import { PeerService } from './features/peers/peer-service.ts';
import { Puller } from './features/federation/puller.ts';
import { registerFederationRoutes } from './features/federation/routes.ts';
import { Waker } from './features/federation/waker.ts';
import { installErrorHandler, NODE_HTTP_OPTIONS } from './http/error-handler.ts';
import { fetchPeerManifest } from './features/identity/fetch-manifest.ts';
import type { NodeKey } from './features/identity/node-key.ts';
import { loadOrCreateNodeKey } from './features/identity/node-key.ts';
import { ManifestSigner, registerWellKnownRoutes } from './features/identity/well-known.ts';
import { nodeMetrics } from './metrics.ts';
import { installQuotas, quotaExceeded } from './features/quotas/quota-hook.ts';
import { createQuotas, warnIfQuotasDisabled } from './features/quotas/quotas.ts';
import { KeyRing, manifestRotationEvents } from './features/rotation/key-ring.ts';
import { PeerKeyTrust } from './features/rotation/peer-key-trust.ts';
import { logManifest } from './features/rotation/tlog.ts';

export const NODE_VERSION = '0.1.0';

export interface TesseraNode {
  entityUri: string;
  apiUrl: string;
  federationUrl: string;
  store: Store;
  peers: PeerDirectory;
  puller: Puller;
  close(): Promise<void>;
}

export interface StartNodeOptions {
  logger: Logger;
  clock?: Clock;
}

export async function startNode(config: NodeConfig, options: StartNodeOptions): Promise<TesseraNode> {
  const { logger } = options;
  const clock = options.clock ?? systemClock;
  // Everything that can refuse to start is checked before a port is opened, and the TLS material even
  // before the data dir is created, so a bad certificate leaves nothing behind.
  const credentials =
    config.federation.mode === 'mtls'
      ? await CredentialSource.open({
          certPath: config.federation.certPath,
          keyPath: config.federation.keyPath,
          caPath: config.federation.caPath,
          entityUri: config.entityUri,
          logger,
          clock,
        })
      : null;
  // What a failed start has opened is closed again, in reverse order, before the error propagates.
  const undo: (() => unknown)[] = [];
  if (credentials) undo.push(() => credentials.close());
  try {
    const keyOptions = {
      dataDir: config.dataDir,
      ...(config.nodePrivateKey ? { privateKeyB64: config.nodePrivateKey } : {}),
      ...(config.nodeKeyPath ? { keyPath: config.nodeKeyPath } : {}),
    };
    // A key given by env or file is checked before the data dir exists; a generated one needs the dir.
    const givenKey = config.nodePrivateKey || config.nodeKeyPath;
    const givenNodeKey = givenKey ? await loadOrCreateNodeKey(keyOptions) : undefined;
    await mkdir(config.dataDir, { recursive: true, mode: 0o700 });
    // A node key from the data dir lives in a KeyRing (rotated by `tessera identity rotate-key`, picked up
    // without a restart); a key given by env or file is fixed. The issuer key always lives in a ring.
    const nodeRing = givenNodeKey
      ? null
      : await KeyRing.open({ dataDir: config.dataDir, kind: 'node', clock });
    const issuerRing = await KeyRing.open({ dataDir: config.dataDir, kind: 'issuer', clock });
    const nodeKey = () => nodeRing?.current() ?? (givenNodeKey as NodeKey);
    if (givenNodeKey)
      logger.info(
        { event: 'node_key_fixed' },
        'the node key is given by TESSERA_NODE_PRIVATE_KEY / TESSERA_NODE_KEY_PATH: rotate it by replacing that secret',
      );
    const store = await openSqliteStore(databasePath(config.dataDir));
    undo.push(() => store.close());
    const expiry = credentials ? new ExpiryMonitor({ logger, clock }).track(credentials) : null;
    undo.push(() => expiry?.close());

    const peers = await PeerDirectory.load(store);
    const audit = new AuditLog({ store, clock, logger });
    // Outsider-triggered events are sampled into the audit log (all of them are counted in metrics).
    const sample = auditSampler(60);
    warnIfQuotasDisabled(config.quotas, logger);
    const quotas = createQuotas(config.quotas, clock, {
      onBreach: (dimension, principal) => {
        if (sample(`quota_breach:${principal}:${dimension}`))
          void audit.note('quota_breach', principal, { dimension });
      },
    });
    const apiKeys = new ApiKeys({ store, clock });
    if (config.authRequired && !config.apiKey && !(await apiKeys.hasActiveAdmin()))
      logger.warn(
        { event: 'no_admin_key' },
        'no admin API key exists yet: create one with `tessera keys bootstrap --data-dir <dir>` (or set TESSERA_API_KEY)',
      );
    credentials?.on('reload', (event) => {
      if (event.result !== 'unchanged')
        void audit.note('tls_reload', null, {
          result: event.result,
          trigger: event.trigger,
          reason: event.reason ?? null,
          fingerprint256: event.fingerprint256,
        });
    });
    const hlc = new HybridClock(() => clock().getTime());
    const transport = new HttpsPeerTransport({
      credentials,
      expectedIdentity: (origin) => peers.expectedIdentityFor(origin),
      logger,
      clock,
      ...(expiry ? { expiry } : {}),
    });
    undo.push(() => transport.close());
    const client = new FederationClient({
      transport,
      selfEntityUri: config.entityUri,
      nodeKey,
      clock,
    });
    let waker: Waker | undefined;
    const facts = new FactService({
      store,
      nodeId: config.entityUri,
      hlc,
      now: clock,
      onWrite: () => {
        nodeMetrics.factsWritten.inc();
        waker?.notify();
      },
    });
    const puller = new Puller({
      store,
      facts,
      peers,
      client,
      intervalMs: config.pullIntervalMs,
      logger,
      selfEntityUri: config.entityUri,
      afterCycle: async (peer) => {
        await pullRevocations({ store, peer, fetchPage: federationRevocationFetcher(client, peer) });
        // Picks up the peer's key rotations and issuer keys (rate-limited to one fetch per 30 s per peer).
        void trust
          .refresh(peer, clock())
          .catch((error: Error) =>
            logger.warn(
              { event: 'peer_manifest_refresh_failed', peer: peer.entityUri, error: error.message },
              'peer manifest refresh failed',
            ),
          );
      },
    });
    waker = new Waker({ peers, client, debounceMs: config.wakeDebounceMs, logger });

    // ---- federation listener -------------------------------------------------------------------------
    // Handshake level: a valid chain with a URI SAN that is not revoked. Which peer may do what is decided
    // per request (token + approval); the well-known documents are public by nature.
    const federationGate = allOf(
      denyList(() => peers.revoked()),
      (identity) =>
        identity.uris.length > 0 ? allowAll : deny('no_uri_san', 'peer certificate has no URI SAN'),
    );
    const federationApp: FastifyInstance = credentials
      ? (createMtlsServer({
          credentials,
          authorize: federationGate,
          logger,
          clock,
          ...(expiry ? { expiry } : {}),
          fastify: httpOptions(logger, 'federation'),
        }) as unknown as FastifyInstance)
      : Fastify(httpOptions(logger, 'federation'));
    const gate = credentials
      ? (federationApp as unknown as ReturnType<typeof createMtlsServer>).peerGate
      : null;
    if (!credentials) federationApp.decorateRequest('peer', null);
    gate?.on('rejected', (rejection) => {
      if (sample(`tls_peer_rejected:${rejection.reason}`))
        void audit.note('tls_peer_rejected', rejection.peer ?? null, {
          reason: rejection.reason,
          detail: rejection.detail,
          remote_address: rejection.remoteAddress ?? null,
        });
    });
    installErrorHandler(federationApp);
    installRequestMetrics(federationApp, 'federation');

    let nodeUrl = config.nodeUrl;
    const rings = nodeRing ? [nodeRing, issuerRing] : [issuerRing];
    const signer = new ManifestSigner({
      nodeKey,
      issuerKey: () => issuerRing.current(),
      rotationEvents: () => manifestRotationEvents(rings, clock()),
      entityUri: config.entityUri,
      ...(credentials ? { credentials } : {}),
      clock,
    });
    const wellKnown = {
      getInfo: () => ({
        version: NODE_VERSION,
        entity_uri: config.entityUri,
        node_url: nodeUrl,
        federation_url: nodeUrl,
        auth: { api_keys: config.authRequired },
        federation: { transport: credentials ? 'mtls' : 'insecure', token: 'EdDSA-JWT' },
        public_key: nodeKey().publicKeyB64,
        key_id: nodeKey().keyId,
      }),
      getManifest: () => signer.manifest(),
    };
    registerWellKnownRoutes(federationApp, wellKnown);
    const fetchManifest = (url: string, expectedEntityUri?: string) =>
      fetchPeerManifest(transport, url, {
        now: clock(),
        ...(expectedEntityUri ? { expectedEntityUri } : {}),
      });
    const trust = await PeerKeyTrust.load({
      store,
      peers,
      fetchManifest: async (peer) => (await fetchManifest(peer.federationUrl, peer.entityUri)).manifest,
    });
    const federationAuth: FederationAuthDeps = {
      store,
      peers,
      selfEntityUri: config.entityUri,
      requireMtls: credentials !== null,
      clock,
      trust,
      onRejected: (reason, detail) => {
        nodeMetrics.federationRejections.inc({ reason });
        if (sample(`federation_rejected:${reason}`))
          void audit.note('federation_rejected', null, { reason, detail });
        logger.warn(
          { event: 'federation_rejected', reason, detail },
          `federation request refused: ${reason}`,
        );
      },
    };
    installPeerAuth(federationApp, federationAuth);
    registerFederationRoutes(federationApp, {
      ...federationAuth,
      reforward: config.reforward,
      onWake: (peerId) => puller.wake(peerId),
      takeQuota: (peerEntityUri, reply) => {
        const decision = quotas.takeFederationPull(peerEntityUri);
        if (!decision.allowed) throw quotaExceeded(decision, reply);
      },
    });
    registerRevocationFeedRoute(federationApp, federationAuth);

    // ---- API listener --------------------------------------------------------------------------------
    const apiApp = createApiApp(config, credentials, clock, logger);
    installErrorHandler(apiApp);
    installRequestMetrics(apiApp, 'api');
    installApiAuth(apiApp, {
      apiKeys,
      staticAdminKey: config.apiKey,
      required: config.authRequired,
      failureLimiter: createFailureLimiter(config.authFailuresPerHour, () => clock().getTime()),
      onAuthFailed: (reason, keyId) => {
        // Sampled per reason and key id: key ids are public, so even failures that name a real key can be
        // produced at will; every failure is still counted in tessera_api_auth_failures_total.
        if (sample(`auth_failed:${reason}:${keyId ?? ''}`))
          void audit.note('auth_failed', keyId ?? null, { reason });
      },
    });
    installQuotas(apiApp, quotas);
    installAuditTrail(apiApp, audit);
    registerApiKeyRoutes(apiApp, {
      apiKeys,
      clock,
      onKeyCreated: (key, principal) =>
        void audit.note('api_key_created', principal.entityUri, {
          key_id: key.id,
          entity_uri: key.entityUri,
          permissions: key.permissions,
          expires_at: key.expiresAt,
        }),
      onKeyRevoked: (id, principal) =>
        void audit.note('api_key_revoked', principal.entityUri, { key_id: id }),
    });
    registerAuditRoutes(apiApp, { store });
    const capabilities = new CapabilityService({
      store,
      selfEntityUri: config.entityUri,
      issuerKey: () => issuerRing.current(),
      issuerKeys: issuerKeyResolver({ selfEntityUri: config.entityUri, issuerRing, peers, trust }),
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
        // Peers pull revocations with the facts: wake them so the revocation holds everywhere at once.
        waker?.notify();
      },
    });
    registerCapabilityRoutes(apiApp, { service: capabilities });
    registerHealthRoutes(apiApp, { store, credentials, clock });
    registerWellKnownRoutes(apiApp, wellKnown);
    registerFactRoutes(apiApp, { service: facts, store });
    const peerService = new PeerService({
      peers,
      selfEntityUri: config.entityUri,
      clock,
      fetchManifest: (url) => fetchManifest(url),
      onApproved: (peer) => {
        puller.wake(peer.id);
        // If the peer approved us earlier, its pulls were refused until now: tell it to pull at once.
        void client.wake(peer).catch(() => undefined);
      },
      onRevoked: (peer) => {
        puller.forget(peer.id);
        const closed = gate?.revalidate() ?? 0;
        logger.warn(
          { event: 'peer_revoked', peer: peer.entityUri, closedConnections: closed },
          'peer revoked',
        );
      },
    });
    registerPeerRoutes(apiApp, { service: peerService, peers });

    undo.push(
      () => federationApp.close(),
      () => apiApp.close(),
      () => signer.close(),
    );
    await federationApp.listen({ host: config.federationHost, port: config.federationPort });
    const federationPort = (federationApp.server.address() as AddressInfo).port;
    if (config.nodeUrlFromBind) nodeUrl = new URL(nodeUrl).origin.replace(/:\d+$/, `:${federationPort}`);
    await apiApp.listen({ host: config.apiHost, port: config.apiPort });
    const apiPort = (apiApp.server.address() as AddressInfo).port;
    const apiUrl = `${config.apiTls === 'off' ? 'http' : 'https'}://${urlHost(config.apiHost)}:${apiPort}`;
    // Key rotation without restart: the rings follow the data dir (file watch, poll, SIGHUP); the manifest
    // is re-signed, logged in the transparency log, audited, and peers are woken so they fetch it.
    const stopWatching = rings.map((ring) => {
      ring.on('change', (change) => {
        signer.invalidate();
        void logManifest(config.dataDir, signer.manifest(), clock()).catch((error: Error) =>
          logger.error(
            { event: 'tlog_write_failed', error: error.message },
            'could not log the new manifest',
          ),
        );
        void audit.note('key_rotation', null, {
          kind: ring.kind,
          old_key_id: change.previousKeyId,
          new_key_id: change.keyId,
        });
        logger.info(
          { event: 'key_rotated', kind: ring.kind, key_id: change.keyId },
          `${ring.kind} key switched`,
        );
        if (ring.kind === 'node') waker?.notify();
      });
      ring.on('error', (error) =>
        logger.warn(
          { event: 'key_reload_failed', kind: ring.kind, error: error.message },
          'key reload failed; keeping the current key',
        ),
      );
      return ring.watch();
    });
    undo.push(() => {
      for (const stop of stopWatching) stop();
    });
    puller.start();
    // Seen token ids are only needed until their tokens expire.
    let ticks = 0;
    const pruneTimer = setInterval(() => {
      // Kept a minute past expiry: token verification tolerates a few seconds of clock skew.
      void store.pruneJtis(Math.floor(clock().getTime() / 1000) - 60).catch(() => undefined);
      // Hourly: keys whose dual-trust window has ended are forgotten.
      if (++ticks % 60 === 0)
        void Promise.all([...rings.map((ring) => ring.pruneRetired()), trust.prune(clock())]).catch(
          () => undefined,
        );
    }, 60_000);
    pruneTimer.unref();

    return {
      entityUri: config.entityUri,
      apiUrl,
      get federationUrl() {
        return nodeUrl;
      },
      store,
      peers,
      puller,
      async close() {
        clearInterval(pruneTimer);
        for (const stop of stopWatching) stop();
        waker?.close();
        await puller.stop();
        await Promise.allSettled([apiApp.close(), federationApp.close()]);
        await transport.close();
        credentials?.close();
        expiry?.close();
        signer.close();
        await store.close();
      },
    };
  } catch (error) {
    for (const close of undo.reverse())
      await Promise.resolve()
        .then(close)
        .catch(() => undefined);
    throw error;
  }
}

function createApiApp(
  config: NodeConfig,
  credentials: CredentialSource | null,
  clock: Clock,
  logger: Logger,
): FastifyInstance {
  const base = httpOptions(logger, 'api');
  if (config.apiTls === 'off' || !credentials) return Fastify(base);
  if (config.apiTls === 'mtls') {
    // Any client certificate of our CA bundle is admitted; the API key still decides what it may do.
    return createMtlsServer({
      credentials,
      authorize: () => allowAll,
      logger,
      clock,
      fastify: base,
    }) as unknown as FastifyInstance;
  }
  const tlsOptions = (material: Material) => ({
    ...serverTlsOptions(material),
    requestCert: false,
    rejectUnauthorized: false,
  });
  const app = Fastify({
    ...base,
    https: tlsOptions(credentials.material),
  } as FastifyHttpsOptions<HttpsServer>) as unknown as FastifyInstance;
  const stop = followCredentials(credentials, (material) =>
    (app.server as unknown as { setSecureContext(o: object): void }).setSecureContext(tlsOptions(material)),
  );
  app.addHook('onClose', async () => stop());
  app.decorateRequest('peer', null);
  return app;
}

/**
 * Fastify options of a listener: the shared limits and error shape, and the node's pino logger with a
 * request id on every line a request logs. Per-request lines appear at debug; warnings and errors always.
 */
function httpOptions(logger: Logger, listener: string): FastifyServerOptions {
  const verbose = ['debug', 'trace'].includes(logger.level);
  return {
    ...NODE_HTTP_OPTIONS,
    loggerInstance: logger.child({ listener }, { level: verbose ? logger.level : 'warn' }),
    genReqId: () => randomUUID(),
  };
}

function urlHost(host: string): string {
  if (host === '0.0.0.0' || host === '::') return '127.0.0.1';
  return host.includes(':') ? `[${host}]` : host;
}
