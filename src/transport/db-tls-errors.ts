// Reads a database driver's connection error as a TLS refusal with a stable reason, whichever side refused:
// we refused the server (OpenSSL's verification code, the name check, our authorizers) or the server
// refused us (a TLS alert about our certificate, or its authentication answer). Both drivers pass Node's
// TLS errors through unchanged, so one reading serves pg and mysql2.
import { PeerRejectedError } from '../tls/errors.ts';
import { reasonForVerifyError } from './rejections.ts';

/** Why a database connection was refused at the TLS or authentication step. */
export interface DatabaseTlsRefusal {
  /** 'client': we refused the server's certificate; 'server': the server refused our certificate or login. */
  by: 'client' | 'server';
  /**
   * Stable reason: `cert_untrusted`, `cert_expired`, `cert_not_yet_valid`, `cert_self_signed`,
   * `cert_wrong_purpose`, `hostname_mismatch`, a core authorizer reason (`uri_mismatch`, `leaf_is_ca`, …),
   * `protocol_version`, `client_cert_refused`, `access_denied` or `tls_unavailable`.
   */
  reason: string;
  /** The driver's or OpenSSL's own words (never key material). */
  detail: string;
}

// OpenSSL's X509_V_ERR_* names as node:tls gives them in `error.code`, with OpenSSL 3's text for each:
// mysql2 replaces the code with HANDSHAKE_SSL_ERROR, so there the text is what is left to read.
const VERIFY_CODES = new Map([
  ['UNABLE_TO_GET_ISSUER_CERT', 'unable to get issuer certificate'],
  ['UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'unable to get local issuer certificate'],
  ['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'unable to verify the first certificate'],
  ['UNABLE_TO_DECRYPT_CERT_SIGNATURE', "unable to decrypt certificate's signature"],
  ['UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY', 'unable to decode issuer public key'],
  ['CERT_SIGNATURE_FAILURE', 'certificate signature failure'],
  ['CERT_NOT_YET_VALID', 'certificate is not yet valid'],
  ['CERT_HAS_EXPIRED', 'certificate has expired'],
  ['ERROR_IN_CERT_NOT_BEFORE_FIELD', "format error in certificate's notBefore field"],
  ['ERROR_IN_CERT_NOT_AFTER_FIELD', "format error in certificate's notAfter field"],
  ['DEPTH_ZERO_SELF_SIGNED_CERT', 'self-signed certificate'],
  ['SELF_SIGNED_CERT_IN_CHAIN', 'self-signed certificate in certificate chain'],
  ['CERT_CHAIN_TOO_LONG', 'certificate chain too long'],
  ['CERT_REVOKED', 'certificate revoked'],
  ['INVALID_CA', 'invalid CA certificate'],
  ['PATH_LENGTH_EXCEEDED', 'path length constraint exceeded'],
  ['INVALID_PURPOSE', 'unsupported certificate purpose'],
  ['CERT_UNTRUSTED', 'certificate not trusted'],
  ['CERT_REJECTED', 'certificate rejected'],
]);
const VERIFY_TEXTS = new Map([...VERIFY_CODES].map(([code, text]) => [text, code]));
// node:tls's message for ERR_TLS_CERT_ALTNAME_INVALID (its `reason` property says which name is missing).
const ALTNAME_MESSAGE = "Hostname/IP does not match certificate's altnames";

// TLS alerts a server sends when it refuses the certificate we presented (or sent none).
const CERTIFICATE_ALERT =
  /ALERT_(UNKNOWN_CA|BAD_CERTIFICATE|CERTIFICATE_\w+|UNSUPPORTED_CERTIFICATE|ACCESS_DENIED)$/;
const PROTOCOL_CODES = new Set([
  'ERR_SSL_UNSUPPORTED_PROTOCOL',
  'ERR_SSL_WRONG_VERSION_NUMBER',
  'ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION',
  'ERR_SSL_NO_PROTOCOLS_AVAILABLE',
]);

// A TLS failure met while writing surfaces as EPROTO with OpenSSL's text instead of an ERR_SSL_* code.
const EPROTO_PROTOCOL = /alert protocol version|unsupported protocol|wrong version number/i;
const EPROTO_CERTIFICATE =
  /alert (unknown ca|bad certificate|certificate [a-z]+|unsupported certificate|access denied)/i;

interface DriverError {
  code?: unknown;
  errno?: unknown;
  message?: unknown;
  reason?: unknown;
  cause?: unknown;
}

/**
 * The TLS or authentication refusal inside a pg / mysql2 connection error, or undefined when the error is
 * something else (network, SQL). Looks at the error and its `cause`.
 */
export function databaseTlsRefusal(error: unknown): DatabaseTlsRefusal | undefined {
  for (let current = error, depth = 0; current && depth < 3; depth++) {
    const refusal = classify(current);
    if (refusal) return refusal;
    current = (current as DriverError).cause;
  }
  return undefined;
}

function classify(error: unknown): DatabaseTlsRefusal | undefined {
  if (error instanceof PeerRejectedError) return { by: 'client', reason: error.reason, detail: error.detail };
  if (typeof error !== 'object' || error === null) return undefined;
  const { errno } = error as DriverError;
  const message = String((error as DriverError).message ?? '');
  const code = tlsCode(error as DriverError, message);
  if (typeof code === 'string') {
    if (VERIFY_CODES.has(code))
      return { by: 'client', reason: reasonForVerifyError(code), detail: `${code}: ${message}` };
    if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
      const reason = (error as DriverError).reason;
      return {
        by: 'client',
        reason: 'hostname_mismatch',
        detail: typeof reason === 'string' ? reason : message,
      };
    }
    if (PROTOCOL_CODES.has(code))
      return {
        by: code.includes('ALERT') ? 'server' : 'client',
        reason: 'protocol_version',
        detail: `${code}: ${message}`,
      };
    if (code === 'EPROTO' && EPROTO_PROTOCOL.test(message)) {
      const by = /alert/i.test(message) ? 'server' : 'client';
      return { by, reason: 'protocol_version', detail: opensslText(message) };
    }
    if (code === 'EPROTO' && EPROTO_CERTIFICATE.test(message)) {
      return { by: 'server', reason: 'client_cert_refused', detail: opensslText(message) };
    }
    if (CERTIFICATE_ALERT.test(code))
      return { by: 'server', reason: 'client_cert_refused', detail: `${code}: ${message}` };
    // PostgreSQL: invalid_authorization_specification / invalid_password (SQLSTATE 28000 / 28P01).
    if (code === '28000' || code === '28P01') {
      const reason = /certificate/i.test(message) ? 'client_cert_refused' : 'access_denied';
      return { by: 'server', reason, detail: message };
    }
  }
  // MariaDB / MySQL ER_ACCESS_DENIED_ERROR: also how a REQUIRE X509 / REQUIRE SUBJECT mismatch is reported.
  if (errno === 1045) return { by: 'server', reason: 'access_denied', detail: message };
  if (message === 'The server does not support SSL connections') {
    return { by: 'server', reason: 'tls_unavailable', detail: message };
  }
  return undefined;
}

/** The error's code; for mysql2's HANDSHAKE_SSL_ERROR, the node:tls code its message shows it replaced. */
function tlsCode(error: DriverError, message: string): unknown {
  if (error.code !== 'HANDSHAKE_SSL_ERROR') return error.code;
  if (message.startsWith(ALTNAME_MESSAGE)) return 'ERR_TLS_CERT_ALTNAME_INVALID';
  return VERIFY_TEXTS.get(message) ?? error.code;
}

/** `write EPROTO 80EC…:error:0A00042E:SSL routines:ssl3_read_bytes:tlsv1 alert protocol version:…` → the words. */
function opensslText(message: string): string {
  const match = /SSL routines:[^:]*:([^:]+)/.exec(message);
  return match?.[1] ?? message;
}
