// Typed errors of the identity core: every failure carries a stable `code` operators and tests can match,
// and a message that names the file involved. Messages never contain key material.
export type TlsErrorCode =
  | 'TLS_FILE_UNREADABLE'
  | 'TLS_PEM_INVALID'
  | 'TLS_KEY_INVALID'
  | 'TLS_KEY_MISMATCH'
  | 'TLS_CA_BUNDLE_EMPTY'
  | 'TLS_CHAIN_UNTRUSTED'
  | 'TLS_LEAF_IS_CA'
  | 'TLS_EKU_MISSING'
  | 'TLS_CERT_EXPIRED'
  | 'TLS_CERT_NOT_YET_VALID'
  | 'TLS_LIFETIME_TOO_SHORT'
  | 'TLS_ENTITY_URI_MISSING'
  | 'TLS_SELF_HANDSHAKE_FAILED'
  | 'TLS_CONFIG_INVALID'
  | 'TLS_INSECURE_REFUSED'
  | 'TLS_CRL_INVALID'
  | 'TLS_CRL_ISSUER_UNKNOWN'
  | 'TLS_CRL_SIGNATURE';

export class TlsError extends Error {
  override readonly name = 'TlsError';
  constructor(
    readonly code: TlsErrorCode,
    message: string,
    readonly file?: string,
  ) {
    super(`${code}: ${message}`);
  }
}

/** Raised on either side when a peer that completed (or attempted) a handshake is refused. */
export class PeerRejectedError extends Error {
  override readonly name = 'PeerRejectedError';
  readonly code = 'TLS_PEER_REJECTED';
  constructor(
    readonly reason: string,
    readonly detail: string,
  ) {
    super(`TLS_PEER_REJECTED: ${reason}: ${detail}`);
  }
}
