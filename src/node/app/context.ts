// What every feature is built from: the settings, the clock and logger, the TLS credentials, the store,
// the node's keys, the peer directory, the audit log and the node's event bus. Opened in the order that
// lets a bad start leave nothing behind: TLS material and a given key are checked before the data dir
// is created, and everything opened is registered with the lifecycle so a failed start closes it again.
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Logger } from 'pino';
import { Registry } from 'prom-client';
import type { Store } from '../../store/store.ts';
import type { Clock } from '../../tls/clock.ts';
import { CredentialSource } from '../../tls/credential-source.ts';
import { ExpiryMonitor } from '../../tls/expiry.ts';
import { createTlsMetrics, type TlsMetrics } from '../../tls/metrics.ts';
import { AuditLog } from '../features/audit/audit-log.ts';
import { auditSampler } from '../features/audit/sampler.ts';
import { PeerClocks } from '../features/federation/peer-clocks.ts';
import { loadGivenNodeKey, type NodeKeys, openNodeKeys } from '../features/identity/node-keys.ts';
import { PeerDirectory } from '../features/peers/peer-directory.ts';
import { createNodeMetrics, type NodeMetrics } from '../metrics.ts';
import type { NodeConfig } from '../settings/config.ts';
import { NodeEvents } from './events.ts';
import type { Lifecycle } from './lifecycle.ts';
import { openNodeState } from './open-store.ts';

export interface NodeContext {
  readonly config: NodeConfig;
  readonly logger: Logger;
  readonly clock: Clock;
  /** Our TLS credentials; null in the insecure dev mode and for a single node without TLS material. */
  readonly credentials: CredentialSource | null;
  readonly expiry: ExpiryMonitor | null;
  readonly store: Store;
  readonly keys: NodeKeys;
  readonly peers: PeerDirectory;
  /** How far each peer's clock is from ours (federation feeds it; peers list and status show it). */
  readonly peerClocks: PeerClocks;
  readonly audit: AuditLog;
  /** Outsider-triggered audit events are sampled per key (all of them are counted in metrics). */
  readonly sample: (key: string) => boolean;
  readonly events: NodeEvents;
  /** The node's one metrics registry (served at /metrics), the TLS core's metrics and the node's in it. */
  readonly registry: Registry;
  readonly tlsMetrics: TlsMetrics;
  readonly metrics: NodeMetrics;
  /** The advertised federation URL; a port-0 bind is filled in once the federation listener listens. */
  nodeUrl: string;
  /** The advertised gRPC federation endpoint (`host:port`) once that listener listens; null when off. */
  grpcEndpoint: string | null;
}

const DAY_MS = 86_400_000;
/** The store channel a changed peer's id travels on to the other replicas. */
const PEER_CHANGED = 'peer_changed';

/**
 * Applies a peer change another replica announced: the directory reads it again, and an approval or a
 * revocation is announced on this replica's events as if made here (pulling starts, connections close).
 * Our own announcements find nothing changed.
 */
async function followPeerChange(peers: PeerDirectory, events: NodeEvents, id: string): Promise<void> {
  const { before, after } = await peers.refresh(id);
  if (!after || before?.status === after.status) return;
  if (after.status === 'approved') events.emit('peer_approved', after);
  if (after.status === 'revoked') events.emit('peer_revoked', after);
}

export async function openContext(
  config: NodeConfig,
  options: { logger: Logger; clock: Clock },
  lifecycle: Lifecycle,
): Promise<NodeContext> {
  const { logger, clock } = options;
  const registry = new Registry();
  const tlsMetrics = createTlsMetrics(registry);
  const metrics = createNodeMetrics(registry, () => clock().getTime());
  tlsMetrics.insecureMode.set(config.federation.mode === 'insecure' ? 1 : 0);
  const credentials =
    config.federation.mode === 'mtls'
      ? await CredentialSource.open({
          certPath: config.federation.certPath,
          keyPath: config.federation.keyPath,
          caPath: config.federation.caPath,
          entityUri: config.entityUri,
          minRemainingLifetimeMs: config.tlsMinRemainingLifetimeMs,
          crlPaths: config.tlsCrl.paths,
          crlStale: config.tlsCrl.stale,
          logger,
          clock,
          metrics: tlsMetrics,
        })
      : null;
  if (credentials) {
    lifecycle.holds(() => credentials.close());
    lifecycle.reloads(() => credentials.reload('manual'));
  }
  const givenKey = await loadGivenNodeKey(config);
  await mkdir(config.dataDir, { recursive: true, mode: 0o700 });
  const keys = await openNodeKeys(config, givenKey, clock, logger);
  // TESSERA_DB_PATH may put the database outside the data dir (Stigmem's STIGMEM_DB_PATH=/data/stigmem.db).
  if (config.database.kind === 'sqlite')
    await mkdir(dirname(config.dbPath), { recursive: true, mode: 0o700 });
  // The key rings watch the transparency log's directory (TESSERA_TL_LOCAL_PATH): it must exist.
  await mkdir(dirname(config.tlogPath), { recursive: true, mode: 0o700 });
  const state = await openNodeState(config, { logger, clock, metrics: tlsMetrics });
  lifecycle.holds(() => state.close());
  lifecycle.reloads(() => state.reload());
  const { store } = state;
  const { warningMs, criticalMs } = config.tlsExpiry;
  const expiry = credentials
    ? new ExpiryMonitor({
        logger,
        clock,
        metrics: tlsMetrics,
        warningDays: warningMs / DAY_MS,
        criticalDays: criticalMs / DAY_MS,
        // Windows of hours (24 h certificates) need a closer look than the hourly default.
        checkIntervalMs: Math.min(3_600_000, Math.max(60_000, Math.floor(criticalMs / 4))),
      }).track(credentials)
    : null;
  if (expiry) lifecycle.holds(() => expiry.close());
  const events = new NodeEvents();
  const peers = await PeerDirectory.load(
    store,
    // Replicas on one database: a peer added, approved or revoked on one is announced to the others.
    store.shared ? (id) => void store.notify(PEER_CHANGED, id).catch(() => undefined) : undefined,
  );
  if (store.shared) {
    const follow = (id: string) =>
      followPeerChange(peers, events, id).catch((error: Error) =>
        logger.warn(
          { event: 'peer_refresh_failed', peer: id, error: error.message },
          'could not read a peer another replica changed',
        ),
      );
    const unsubscribe = store.subscribe(
      PEER_CHANGED,
      (id) => void follow(id),
      // Changes announced while this replica was reconnecting: every peer is read again.
      () =>
        void store
          .listPeers()
          .then((all) => Promise.all(all.map((peer) => follow(peer.id))))
          .catch(() => undefined),
    );
    lifecycle.holds(async () => unsubscribe());
  }
  return {
    config,
    logger,
    clock,
    credentials,
    expiry,
    store,
    keys,
    peers,
    peerClocks: new PeerClocks({
      onReading: (peer, reading) => metrics.peerClockSkew.set({ peer }, reading.skewMs / 1000),
    }),
    audit: new AuditLog({
      store,
      clock,
      logger,
      onWriteFailure: (eventType) => metrics.auditWriteFailures.inc({ event_type: eventType }),
    }),
    sample: auditSampler(60),
    events,
    registry,
    tlsMetrics,
    metrics,
    nodeUrl: config.nodeUrl,
    grpcEndpoint: null,
  };
}
