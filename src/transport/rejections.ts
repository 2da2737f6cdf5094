// Turns what Node reports about a refused handshake into a stable reason, and records every refusal the
// same way on both sides: a log line, the rejection counter, and an event for the caller.
import type { TLSSocket } from 'node:tls';
import type { LogSampler } from '../tls/log-sampler.ts';
import type { Logger } from '../tls/logger.ts';
import type { TlsMetrics } from '../tls/metrics.ts';

export interface Rejection {
  side: 'server' | 'client';
  reason: string;
  detail: string;
  /** Who the peer claimed to be (first URI SAN or fingerprint), when a certificate was seen. */
  peer?: string;
  remoteAddress?: string | undefined;
  /** The revoked certificate's serial (reason cert_revoked). */
  serial?: string;
}

const VERIFY_REASONS: Record<string, string> = {
  CERT_HAS_EXPIRED: 'cert_expired',
  CERT_NOT_YET_VALID: 'cert_not_yet_valid',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'cert_self_signed',
  SELF_SIGNED_CERT_IN_CHAIN: 'cert_untrusted',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'cert_untrusted',
  UNABLE_TO_GET_ISSUER_CERT: 'cert_untrusted',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'cert_untrusted',
  CERT_SIGNATURE_FAILURE: 'cert_untrusted',
  INVALID_CA: 'cert_untrusted',
  // OpenSSL's purpose check: no clientAuth (serverAuth) EKU, or a CA certificate presented as the leaf.
  INVALID_PURPOSE: 'cert_wrong_purpose',
  CERT_REVOKED: 'cert_revoked',
};

const HANDSHAKE_REASONS: Record<string, string> = {
  ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE: 'no_client_certificate',
  ERR_SSL_UNSUPPORTED_PROTOCOL: 'protocol_version',
  ERR_SSL_WRONG_VERSION_NUMBER: 'protocol_version',
  ERR_SSL_NO_SHARED_CIPHER: 'no_shared_cipher',
  ERR_SSL_HTTP_REQUEST: 'plaintext_http',
  ERR_SSL_HTTPS_PROXY_REQUEST: 'plaintext_http',
};

/** The peer hung up mid-handshake (e.g. our client-side check refused the server): not a refusal of ours. */
export const PEER_ABORTED = 'peer_aborted';

/** An OpenSSL certificate-verification code (X509_V_ERR_* as Node names it), as opposed to a socket error. */
export function isVerifyError(code: string): boolean {
  return (
    code in VERIFY_REASONS ||
    /^(CERT_|UNABLE_TO_|DEPTH_ZERO_|SELF_SIGNED_|INVALID_|HOSTNAME_MISMATCH)/.test(code)
  );
}

/** OpenSSL certificate-verification codes (X509_V_ERR_*) → reason. */
export function reasonForVerifyError(code: string): string {
  return VERIFY_REASONS[code] ?? 'cert_invalid';
}

/** A server-side tlsClientError: the socket's verification result wins over the transport error. */
export function classifyHandshakeError(
  error: NodeJS.ErrnoException,
  socket: TLSSocket,
): { reason: string; detail: string } {
  const verify = socket.authorizationError as unknown as string | null | undefined;
  if (verify) return { reason: reasonForVerifyError(String(verify)), detail: String(verify) };
  const code = error.code ?? 'UNKNOWN';
  const reason = HANDSHAKE_REASONS[code] ?? (code === 'ECONNRESET' ? PEER_ABORTED : 'handshake_failed');
  return { reason, detail: code };
}

/**
 * Counts the refusal (always) and logs it (sampled per side and reason when a sampler is given: a flood of
 * failed handshakes costs a few lines a second, each saying how many were suppressed before it).
 */
export function recordRejection(
  rejection: Rejection,
  logger: Logger,
  metrics: TlsMetrics,
  sample?: LogSampler,
): void {
  metrics.rejections.inc({ side: rejection.side, reason: rejection.reason });
  const decision = sample?.(`${rejection.side}:${rejection.reason}`) ?? { log: true, suppressed: 0 };
  if (!decision.log) return;
  logger.warn(
    {
      event: 'tls_peer_rejected',
      ...rejection,
      ...(decision.suppressed ? { suppressed: decision.suppressed } : {}),
    },
    `TLS peer rejected (${rejection.side} side): ${rejection.reason}`,
  );
}

const CLIENT_HANDSHAKE_REASONS: Record<string, string> = {
  ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION: 'protocol_version',
  ERR_SSL_UNSUPPORTED_PROTOCOL: 'protocol_version',
  ERR_SSL_WRONG_VERSION_NUMBER: 'protocol_version',
  ERR_SSL_NO_PROTOCOLS_AVAILABLE: 'protocol_version',
  ERR_SSL_NO_SHARED_CIPHER: 'no_shared_cipher',
  ERR_SSL_NO_CIPHERS_AVAILABLE: 'no_shared_cipher',
};

/** A client-side handshake error → reason; null when the peer just hung up (nothing of ours to count). */
export function classifyClientHandshakeError(error: NodeJS.ErrnoException): string | null {
  const code = error.code ?? '';
  if (code === 'ECONNRESET' || code === 'EPIPE' || code === 'ECONNREFUSED') return null;
  if (code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_'))
    return CLIENT_HANDSHAKE_REASONS[code] ?? 'handshake_failed';
  return code ? reasonForVerifyError(code) : 'handshake_failed';
}
