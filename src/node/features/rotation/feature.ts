// Key rotation without a restart: the key rings follow the data dir (file watch, poll, SIGHUP through the
// shared file-watch engine); a switch re-signs the manifest, is logged in the transparency log and the
// audit log, and (for the node key) wakes the peers so they fetch the new manifest. Peers' rotations are
// picked up after pulls. Keys whose dual-trust window ended are forgotten hourly.

import type { PeerRecord } from '../../../store/ports/peers.ts';
import type { NodeContext } from '../../app/context.ts';
import type { Feature } from '../../app/feature.ts';
import type { FetchedPeerManifest } from '../identity/fetch-manifest.ts';
import type { ManifestSigner } from '../identity/well-known.ts';
import { PeerKeyTrust } from './peer-key-trust.ts';
import { logManifest } from './tlog.ts';

/** Which keys of each peer we accept, refreshed from their verified manifests. */
export function loadPeerKeyTrust(
  ctx: NodeContext,
  fetchManifest: (url: string, expectedEntityUri?: string) => Promise<FetchedPeerManifest>,
): Promise<PeerKeyTrust> {
  return PeerKeyTrust.load({
    store: ctx.store,
    peers: ctx.peers,
    fetchManifest: async (peer) => (await fetchManifest(peer.federationUrl, peer.entityUri)).manifest,
  });
}

export function rotationFeature(
  ctx: NodeContext,
  deps: { signer: ManifestSigner; trust: PeerKeyTrust },
): Feature & { refreshPeerKeys(peer: PeerRecord): Promise<void> } {
  const { config, keys, clock, logger, audit } = ctx;
  let stops: (() => void)[] = [];
  let pruneTimer: NodeJS.Timeout | undefined;
  return {
    name: 'rotation',
    // Picks up the peer's key rotations and issuer keys (rate-limited to one fetch per 30 s per peer).
    async refreshPeerKeys(peer) {
      void deps.trust
        .refresh(peer, clock())
        .catch((error: Error) =>
          logger.warn(
            { event: 'peer_manifest_refresh_failed', peer: peer.entityUri, error: error.message },
            'peer manifest refresh failed',
          ),
        );
    },
    start() {
      stops = keys.rings.map((ring) => {
        ring.on('change', (change) => {
          deps.signer.invalidate();
          void logManifest(config.dataDir, deps.signer.manifest(), clock(), config.tlogPath).catch(
            (error: Error) =>
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
          if (ring.kind === 'node') ctx.events.emit('node_key_rotated');
        });
        ring.on('error', (error) =>
          logger.warn(
            { event: 'key_reload_failed', kind: ring.kind, error: error.message },
            'key reload failed; keeping the current key',
          ),
        );
        return ring.watch();
      });
      pruneTimer = setInterval(
        () =>
          void Promise.all([
            ...keys.rings.map((ring) => ring.pruneRetired()),
            deps.trust.prune(clock()),
          ]).catch(() => undefined),
        3_600_000,
      );
      pruneTimer.unref();
    },
    reload: () => Promise.all(keys.rings.map((ring) => ring.reload())),
    drain() {
      clearInterval(pruneTimer);
      for (const stop of stops) stop();
      stops = [];
    },
  };
}
