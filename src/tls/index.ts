/**
 * `tessera/tls`: the TLS identity core. Loads and validates certificate material (rule 1), builds the
 * TLS 1.3 policy (rule 2), reads peer identities from the DER (rule 3), authorizes them (rule 4), reloads
 * credentials without a restart (rule 5), watches expiry (rule 6) and gates insecure modes (rule 7).
 * Imports nothing of Tessera's outside src/tls.
 */
export * from './authorize.ts';
export { type Clock, systemClock, systemTimers, type Timers } from './clock.ts';
export {
  CredentialSource,
  type CredentialSourceOptions,
  type ReloadEvent,
  type ReloadTrigger,
} from './credential-source.ts';
export {
  type CrlFile,
  type CrlStalePolicy,
  inspectCrls,
  type LoadedCrl,
  loadCrls,
  parseCrlFile,
  readCrlFiles,
} from './crl.ts';
export { PeerRejectedError, TlsError, type TlsErrorCode } from './errors.ts';
export {
  type ExpiryEvent,
  type ExpiryLevel,
  ExpiryMonitor,
  type ExpiryOptions,
  type TrackedCertificate,
} from './expiry.ts';
export type { CredentialFeed } from './follow.ts';
export { describePeer, type PeerIdentity, peerIdentityFromDer, peerIdentityOf } from './identity.ts';
export {
  evaluateFederationSecurity,
  type FederationSecurity,
  INSECURE_FLAG,
  isLoopbackHost,
  NON_LOOPBACK_FLAG,
} from './insecure.ts';
export { createLogSampler, type LogSample, type LogSampler } from './log-sampler.ts';
export { type Logger, setDefaultLogLevel } from './logger.ts';
export {
  loadMaterial,
  type Material,
  type MaterialPaths,
  type TlsRole,
  type ValidateOptions,
  validateMaterial,
} from './material.ts';
export { createTlsMetrics, type TlsMetrics } from './metrics.ts';
export {
  clientTlsOptions,
  DATABASE_TLS12_CIPHERS,
  type DatabaseTlsPolicy,
  type DatabaseTlsVersion,
  databaseClientTlsOptions,
  serverTlsOptions,
  TLS_CIPHERS,
  TLS_VERSION,
} from './policy.ts';
export {
  checkPeerTrust,
  nextTrustDeadline,
  type PeerTrustOptions,
  type TrustMaterial,
  type TrustRefusal,
} from './revocation.ts';
export { selfHandshake } from './self-handshake.ts';
export {
  type PeerVerdict,
  type RevocationCheck,
  type VerifyPeerOptions,
  verifyPeerCertificate,
} from './verify-peer.ts';
