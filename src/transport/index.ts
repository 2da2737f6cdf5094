/**
 * `tessera/transport`: thin adapters that carry the TLS identity core onto real protocols: the peer gate
 * for any `tls.Server`, an HTTPS server on fastify, an HTTP client on undici, and a one-handshake probe.
 * Builds on src/tls (and on src/pki's certificate inspector for the probe's chain report).
 */
export { createMtlsAgent, type MtlsAgentOptions, originOf } from './http-client.ts';
export { createMtlsServer, type MtlsServer, type MtlsServerOptions } from './https-server.ts';
export { PeerGate, type PeerGateOptions } from './peer-gate.ts';
export { type ProbeOptions, type ProbeResult, probe } from './probe.ts';
export type { Rejection } from './rejections.ts';
