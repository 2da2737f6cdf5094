// The mysql2 adapter (MariaDB, MySQL): the `ssl` value for a connection or pool, and a pool recycler for
// rotations. mysql2 builds each connection's TLS context from the PEM strings of `ssl` (caching it while
// they stay the same), so getters there hand every new connection the current material. mysql2 takes no
// checkServerIdentity: the name check is Node's own (`verifyIdentity`), and Node is given the host only
// when it is a DNS name, so an IP host is refused here rather than checked as 'localhost'.
// This module never imports mysql2.
import { isIP } from 'node:net';
import { TlsError } from '../tls/errors.ts';
import type { CredentialFeed } from '../tls/follow.ts';
import { followCredentials } from '../tls/follow.ts';
import type { DatabaseTlsVersion } from '../tls/policy.ts';
import { currentTls, type DatabaseTlsOptions, presentedFingerprint } from './db-tls.ts';

/** Options of {@link mysqlSslOptions}. */
export interface MysqlTlsOptions extends DatabaseTlsOptions {
  /**
   * The host mysql2 dials (the same `host` given to mysql2): a DNS name the server's certificate carries.
   * An IP address is refused: mysql2 does not pass it to node:tls, which would then check 'localhost'.
   */
  host: string;
}

/**
 * The value for mysql2's `ssl` option. `ca`, `cert` and `key` are read when each connection starts, so a
 * reload reaches the next connection; `key` is not enumerable, so logging the options never prints it.
 */
export interface MysqlSslOptions {
  /** The configured CA bundle only (plus Node's root CAs when `systemCa` was asked for). */
  readonly ca: string | string[];
  /** Our certificate chain. */
  readonly cert: string;
  /** Our private key (not enumerable). */
  readonly key: string;
  readonly ciphers: string;
  readonly minVersion: DatabaseTlsVersion;
  readonly maxVersion: 'TLSv1.3';
  /** The server's chain must reach `ca` (mysql2 writes this property back, so it is a plain field). */
  rejectUnauthorized: true;
  /** verify-full: Node's `checkServerIdentity` against the host dialled (a DNS SAN). */
  readonly verifyIdentity: true;
}

/**
 * mysql2's `ssl` for verify-full over mutual TLS: the server's chain must reach the configured CA bundle,
 * its certificate must carry `host` as a DNS SAN, and we present our certificate (for `REQUIRE X509` /
 * `REQUIRE SUBJECT` users). mysql2 reports refusals as `HANDSHAKE_SSL_ERROR` with node:tls's message;
 * {@link databaseTlsRefusal} reads the reason (and OpenSSL's code) back from it. mysql2 offers no hook for
 * a URI-SAN authorizer during the handshake: use pg for that, or a CA that issues only database servers.
 *
 * @throws TlsError `TLS_CONFIG_INVALID` when `host` is an IP address (see {@link MysqlTlsOptions.host}).
 * @example mysql.createPool({ host, port, user, ssl: mysqlSslOptions({ host, credentials }) })
 */
export function mysqlSslOptions(options: MysqlTlsOptions): MysqlSslOptions {
  if (isIP(options.host) !== 0) {
    throw new TlsError(
      'TLS_CONFIG_INVALID',
      `mysql2 cannot check the server certificate against the IP address ${options.host} (node:tls would check 'localhost'): dial the database by a DNS name its certificate carries`,
    );
  }
  const tls = currentTls(options);
  const ssl = {
    get ca() {
      return tls().options.ca as string | string[];
    },
    get cert() {
      return tls().material.certPem;
    },
    get ciphers() {
      return tls().options.ciphers as string;
    },
    minVersion: options.minVersion ?? 'TLSv1.2',
    maxVersion: 'TLSv1.3',
    rejectUnauthorized: true,
    verifyIdentity: true,
  } as const;
  Object.defineProperty(ssl, 'key', { get: () => tls().material.keyPem, enumerable: false });
  return ssl as typeof ssl & { readonly key: string } as MysqlSslOptions;
}

/** A mysql2 pool connection as the recycler sees it. */
export interface MysqlPoolConnectionLike {
  /** The connection's socket: after the TLS upgrade, the TLSSocket that presented our certificate. */
  stream?: unknown;
  release(): void;
  destroy(): void;
  once(event: 'end', listener: () => void): unknown;
}

/** The part of a mysql2 pool (callback or promise API) that {@link recycleMysqlPool} uses. */
export interface MysqlPoolLike {
  on(
    event: 'connection' | 'acquire' | 'release',
    listener: (connection: MysqlPoolConnectionLike) => void,
  ): unknown;
  removeListener(
    event: 'connection' | 'acquire' | 'release',
    listener: (connection: MysqlPoolConnectionLike) => void,
  ): unknown;
}

/**
 * Retires a pool's connections that presented an older certificate than the credential source's current
 * one: idle ones are closed as soon as the source reloads, busy ones when they are released (their query
 * has finished); the pool opens new ones, with the new material, as it needs them. No query fails.
 * Returns the function that stops recycling.
 */
export function recycleMysqlPool(pool: MysqlPoolLike, credentials: CredentialFeed): () => void {
  let stopped = false;
  const idle = new Set<MysqlPoolConnectionLike>();
  const stale = (connection: MysqlPoolConnectionLike) => {
    const presented = presentedFingerprint(connection.stream);
    return presented !== undefined && presented !== credentials.material.leaf.fingerprint256;
  };
  const retire = (connection: MysqlPoolConnectionLike) => {
    idle.delete(connection);
    // A pool connection's destroy() takes it out of the pool, which hands a waiting caller a new connection.
    connection.destroy();
  };
  // A release that goes straight to a waiting caller emits no event, so the check sits in release() itself.
  const onConnection = (connection: MysqlPoolConnectionLike) => {
    connection.once('end', () => idle.delete(connection));
    const release = connection.release;
    connection.release = function (this: MysqlPoolConnectionLike) {
      if (!stopped && stale(connection)) return retire(connection);
      return release.call(this);
    };
  };
  const onAcquire = (connection: MysqlPoolConnectionLike) => idle.delete(connection);
  const onRelease = (connection: MysqlPoolConnectionLike) => idle.add(connection);
  pool.on('connection', onConnection);
  pool.on('acquire', onAcquire);
  pool.on('release', onRelease);
  const unfollow = followCredentials(credentials, () => {
    for (const connection of [...idle]) if (stale(connection)) retire(connection);
  });
  return () => {
    stopped = true;
    unfollow();
    pool.removeListener('connection', onConnection);
    pool.removeListener('acquire', onAcquire);
    pool.removeListener('release', onRelease);
    idle.clear();
  };
}
