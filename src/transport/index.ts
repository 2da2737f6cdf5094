/**
 * `tessera/transport`: thin adapters that carry the TLS identity core onto real protocols: the peer gate
 * for any `tls.Server`, an HTTPS server on fastify, an HTTP client on undici, a one-handshake probe, and
 * database TLS for pg (PostgreSQL) and mysql2 (MariaDB, MySQL) without importing either driver, and gRPC
 * (@grpc/grpc-js): an mTLS server, channel credentials, per-call authorizers and a certificate provider,
 * the framed TCP wire (4-byte length-prefixed frames over mTLS: server, client, limits), and
 * proxy-terminated mTLS (a trusted proxy's forwarded client certificate, XFCC or RFC 9440).
 * Builds on src/tls (and on src/pki's certificate inspector for the probe's chain report).
 */
export type { DatabaseTlsOptions } from './db-tls.ts';
export { type DatabaseTlsRefusal, databaseTlsRefusal } from './db-tls-errors.ts';
export {
  type MysqlPoolConnectionLike,
  type MysqlPoolLike,
  type MysqlSslOptions,
  type MysqlTlsOptions,
  mysqlSslOptions,
  recycleMysqlPool,
} from './db-tls-mysql.ts';
export {
  type PgClientLike,
  type PgPoolLike,
  type PgSslOptions,
  type PgTlsOptions,
  pgSslOptions,
  recyclePgPool,
} from './db-tls-pg.ts';
export * from './framed/index.ts';
export * from './grpc/index.ts';
export { createMtlsAgent, type MtlsAgentOptions, originOf } from './http-client.ts';
export { createMtlsServer, type MtlsServer, type MtlsServerOptions } from './https-server.ts';
export { type ClosableConnection, LiveConnections, type LiveConnectionsOptions } from './live-connections.ts';
export { PeerGate, type PeerGateOptions } from './peer-gate.ts';
export { type ProbeOptions, type ProbeResult, probe } from './probe.ts';
export * from './proxy/index.ts';
export { classifyClientHandshakeError, type Rejection } from './rejections.ts';
