// "Peers": every peer this node knows, with how replication from it is going (the puller's view: last
// clean pull, last error, backoff, facts still waiting), its lag in seconds (the lag gauge's source), the
// rate facts arrive from it, its clock skew, and the certificate it presented last (the expiry monitor's).
import type { PeerRecord } from '../../../store/ports/peers.ts';
import type { TrackedCertificate } from '../../../tls/expiry.ts';
import type { ClockReading } from '../federation/peer-clocks.ts';
import type { PeerReplication } from '../federation/puller.ts';
import { iso, secondsBetween } from './time.ts';

export interface PeersInput {
  peers: readonly PeerRecord[];
  replication(peerId: string): PeerReplication;
  caughtUpAt(entityUri: string): number | undefined;
  /** Facts stored from each peer (by entity URI) per minute, lately. */
  ratePerMinute: ReadonlyMap<string, number>;
  /** Certificates the expiry monitor follows (peers' labelled `peer:<URI SAN>`). */
  certificates: readonly TrackedCertificate[];
  clockOf(entityUri: string): ClockReading | undefined;
  /** TESSERA_FEDERATION_MAX_CLOCK_SKEW_MS: a peer further ahead has its facts refused. */
  maxClockSkewMs: number;
  nowMs: number;
}

/** Peer tokens are accepted this far outside their lifetime (peer-token.ts clockTolerance). */
const TOKEN_TOLERANCE_MS = 5000;

/**
 * How worrying a peer's skew is, on what it surely is (the estimate less its uncertainty): critical from
 * the skew that refuses its facts, a warning from the one that refuses its tokens.
 */
export function skewLevel(clock: ClockReading, maxClockSkewMs: number): 'ok' | 'warning' | 'critical' {
  const surely = Math.max(0, Math.abs(clock.skewMs) - clock.uncertaintyMs);
  if (surely >= maxClockSkewMs) return 'critical';
  return surely >= TOKEN_TOLERANCE_MS ? 'warning' : 'ok';
}

export type PeerState = 'pending' | 'revoked' | 'ok' | 'not_yet_pulled' | 'backoff' | 'degraded';

/** One word for the peer's situation, worst first. */
export function peerState(peer: PeerRecord, replication: PeerReplication): PeerState {
  if (peer.status !== 'approved') return peer.status;
  if (replication.degraded) return 'degraded';
  if (replication.failures > 0) return 'backoff';
  return replication.lastSuccessAt === null ? 'not_yet_pulled' : 'ok';
}

export function peersSection(input: PeersInput) {
  const certificateOf = new Map(input.certificates.map((c) => [c.cert, c]));
  return input.peers.map((peer) => {
    const replication = input.replication(peer.id);
    const approved = peer.status === 'approved';
    const caughtUp = input.caughtUpAt(peer.entityUri);
    const cert = certificateOf.get(`peer:${peer.entityUri}`);
    const { lastError } = replication;
    const clock = input.clockOf(peer.entityUri);
    return {
      id: peer.id,
      entity_uri: peer.entityUri,
      federation_url: peer.federationUrl,
      status: peer.status,
      state: peerState(peer, replication),
      degraded: replication.degraded,
      backoff:
        approved && replication.failures > 0
          ? { failures: replication.failures, next_pull_at: iso(replication.nextPullAt) }
          : null,
      last_success_at: iso(replication.lastSuccessAt),
      next_pull_at: approved ? iso(replication.nextPullAt) : null,
      lag_seconds: approved && caughtUp !== undefined ? secondsBetween(caughtUp, input.nowMs) : null,
      facts_behind: approved ? replication.factsBehind : null,
      facts_per_minute: input.ratePerMinute.get(peer.entityUri) ?? 0,
      last_error: lastError
        ? { reason: lastError.reason, detail: lastError.detail, at: iso(lastError.at) }
        : null,
      clock: clock
        ? {
            skew_seconds: Math.round(clock.skewMs) / 1000,
            uncertainty_seconds: Math.round(clock.uncertaintyMs) / 1000,
            source: clock.source,
            at: iso(clock.atMs),
            level: skewLevel(clock, input.maxClockSkewMs),
          }
        : null,
      certificate: cert
        ? {
            subject: cert.subject,
            not_after: iso(cert.notAfter.getTime()),
            seconds_left: secondsBetween(input.nowMs, cert.notAfter.getTime()),
            level: cert.level,
          }
        : null,
    };
  });
}
