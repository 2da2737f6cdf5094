// The node-postgres (pg 8) adapter: the `ssl` value for a Client or Pool, and a pool recycler for rotations.
// pg copies `ssl` into node:tls `connect()` options when each connection upgrades to TLS, so a getter there
// hands every new connection the current material, and `checkServerIdentity` runs after the chain is
// verified and before pg writes its startup message. This module never imports pg.
import {
  checkServerIdentity as nodeCheckServerIdentity,
  type PeerCertificate,
  type SecureContext,
} from 'node:tls';
import { type Authorizer, allOf, exactUri, peerCertificateRules } from '../tls/authorize.ts';
import { type Clock, systemClock } from '../tls/clock.ts';
import { PeerRejectedError } from '../tls/errors.ts';
import type { CredentialFeed } from '../tls/follow.ts';
import { describePeer, peerIdentityFromDer } from '../tls/identity.ts';
import { createLogSampler } from '../tls/log-sampler.ts';
import { defaultLogger, type Logger } from '../tls/logger.ts';
import { createTlsMetrics, type TlsMetrics } from '../tls/metrics.ts';
import { currentTls, type DatabaseTlsOptions, presentedFingerprint } from './db-tls.ts';
import { type Rejection, recordRejection } from './rejections.ts';

/** Options of {@link pgSslOptions}. */
export interface PgTlsOptions extends DatabaseTlsOptions {
  /**
   * The DNS name or IP address the server's certificate must carry as a SAN. Default: the host pg dials
   * (the `host` of the Client or Pool), which is what libpq's `sslmode=verify-full` checks.
   */
  serverName?: string;
  /** A URI SAN the server's certificate must also carry (e.g. its SPIFFE ID). */
  expectedUri?: string;
  /** Further checks on the server's identity; the core's certificate rules always run first. */
  authorize?: Authorizer;
  clock?: Clock;
  logger?: Logger;
  /** Where refusals are counted (`tessera_tls_handshake_rejections_total{side="client"}`); default a private registry. */
  metrics?: TlsMetrics;
  /** Called with every server this adapter refuses after a verified chain (name, URI, certificate rules). */
  onRejected?: (rejection: Rejection) => void;
}

/**
 * The value for pg's `ssl` option (plain node:tls client options; pg is not imported here). Every new
 * connection gets the credential source's current material, so connections opened after a reload present
 * the new certificate; open ones keep theirs (see {@link recyclePgPool}).
 */
export interface PgSslOptions {
  /** Our certificate and key, the CA bundle (only), TLS 1.3 preferred: rebuilt when the material changes. */
  readonly secureContext: SecureContext;
  readonly rejectUnauthorized: true;
  /** verify-full: the server name is a DNS/IP SAN of the certificate, then the authorizers allow it. */
  checkServerIdentity(hostname: string, cert: PeerCertificate): Error | undefined;
}

/**
 * pg's `ssl` for verify-full over mutual TLS: the server's chain must reach the configured CA bundle (Node
 * refuses it otherwise, with OpenSSL's code, e.g. `UNABLE_TO_VERIFY_LEAF_SIGNATURE`, `CERT_HAS_EXPIRED`),
 * its certificate must name the host dialled (or `serverName`), and pass the core's certificate rules and
 * the optional URI / authorizer checks; a refusal is a `PeerRejectedError` whose `reason` says why.
 * Use {@link databaseTlsRefusal} to read any of these failures from the driver's error.
 *
 * @example new pg.Pool({ host, port, user, database, ssl: pgSslOptions({ credentials }) })
 */
export function pgSslOptions(options: PgTlsOptions): PgSslOptions {
  const tls = currentTls(options);
  const authorize = allOf(
    peerCertificateRules,
    ...(options.expectedUri ? [exactUri(options.expectedUri)] : []),
    ...(options.authorize ? [options.authorize] : []),
  );
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? defaultLogger();
  const metrics = options.metrics ?? createTlsMetrics();
  const sample = createLogSampler();

  const refuse = (reason: string, detail: string, peer: string): PeerRejectedError => {
    const rejection: Rejection = { side: 'client', reason, detail, peer };
    recordRejection(rejection, logger, metrics, sample);
    options.onRejected?.(rejection);
    return new PeerRejectedError(reason, detail);
  };

  return {
    get secureContext() {
      return tls().secureContext;
    },
    rejectUnauthorized: true,
    checkServerIdentity(hostname, cert) {
      const identity = peerIdentityFromDer(cert.raw);
      const name = options.serverName ?? hostname;
      // Node's own RFC 6125 check (DNS wildcards, IP SANs), never a hand-written one.
      const nameError = nodeCheckServerIdentity(name, cert) as (Error & { reason?: string }) | undefined;
      if (nameError) {
        return refuse('hostname_mismatch', nameError.reason ?? nameError.message, describePeer(identity));
      }
      const decision = authorize(identity, {
        side: 'client',
        now: clock(),
        ...(options.expectedUri ? { expectedUri: options.expectedUri } : {}),
      });
      return decision.allow
        ? undefined
        : refuse(decision.reason, `${name}: ${decision.detail}`, describePeer(identity));
    },
  };
}

/** The part of a pg `Pool` (pg-pool 3.5 or later) that {@link recyclePgPool} uses. */
export interface PgPoolLike {
  on(event: 'release', listener: (error: Error | undefined, client: PgClientLike) => void): unknown;
  removeListener(
    event: 'release',
    listener: (error: Error | undefined, client: PgClientLike) => void,
  ): unknown;
}

/** A pg `Client` as the recycler sees it: its connection's socket tells which certificate it presented. */
export interface PgClientLike {
  connection?: { stream?: unknown };
}

/**
 * Retires a pool's connections that presented an older certificate than the credential source's current
 * one: each is closed when it is released (its query has finished) instead of returning to the idle list,
 * and the pool opens a new one with the new material when it needs it. Idle connections are retired at
 * their next release or by the pool's `idleTimeoutMillis`. Returns the function that stops recycling.
 *
 * Uses pg-pool's own expiry set (`maxLifetimeSeconds` retires clients the same way), the one way to drop a
 * released client without failing a caller; a pool without it is refused up front.
 */
export function recyclePgPool(pool: PgPoolLike, credentials: Pick<CredentialFeed, 'material'>): () => void {
  const expired = (pool as { _expired?: unknown })._expired;
  if (!(expired instanceof WeakSet)) {
    throw new TypeError('recyclePgPool needs a pg Pool from pg-pool 3.5 or later (pg 8.8+)');
  }
  // 'release' is emitted before the pool decides between the idle list and removal.
  const onRelease = (_error: Error | undefined, client: PgClientLike) => {
    const presented = presentedFingerprint(client.connection?.stream);
    if (presented && presented !== credentials.material.leaf.fingerprint256) expired.add(client);
  };
  pool.on('release', onRelease);
  return () => {
    pool.removeListener('release', onRelease);
  };
}
