// Tessera's public library API: the TLS identity core and its transport adapters.
export * from './tls/authorize.ts';
export { type Clock, systemClock } from './tls/clock.ts';
export {
  CredentialSource,
  type CredentialSourceOptions,
  type ReloadEvent,
  type ReloadTrigger,
} from './tls/credential-source.ts';
export { PeerRejectedError, TlsError, type TlsErrorCode } from './tls/errors.ts';
export { type ExpiryEvent, type ExpiryLevel, ExpiryMonitor, type ExpiryOptions } from './tls/expiry.ts';
export { describePeer, type PeerIdentity, peerIdentityFromDer, peerIdentityOf } from './tls/identity.ts';
export {
  evaluateFederationSecurity,
  type FederationSecurity,
  INSECURE_FLAG,
  isLoopbackHost,
  NON_LOOPBACK_FLAG,
} from './tls/insecure.ts';
export type { Logger } from './tls/logger.ts';
export { loadMaterial, type Material, type MaterialPaths, validateMaterial } from './tls/material.ts';
export { registry, tlsMetrics } from './tls/metrics.ts';
export { clientTlsOptions, serverTlsOptions, TLS_CIPHERS, TLS_VERSION } from './tls/policy.ts';
export { selfHandshake } from './tls/self-handshake.ts';
export { createMtlsAgent, type MtlsAgentOptions, originOf } from './transport/http-client.ts';
export { createMtlsServer, type MtlsServer, type MtlsServerOptions } from './transport/https-server.ts';
export { PeerGate, type PeerGateOptions } from './transport/peer-gate.ts';
export { type ProbeOptions, type ProbeResult, probe } from './transport/probe.ts';
export type { Rejection } from './transport/rejections.ts';
