// Typed errors of the PKI layer: a stable `code` that tests and scripts can match, and a message that names
// the file, option or value at fault. Messages never contain key material.
export type PkiErrorCode =
  | 'PKI_CA_NOT_FOUND'
  | 'PKI_CA_INVALID'
  | 'PKI_DIR_UNWRITABLE'
  | 'PKI_EXISTS'
  | 'PKI_FILE_UNREADABLE'
  | 'PKI_INVALID_ALGO'
  | 'PKI_INVALID_DAYS'
  | 'PKI_INVALID_DNS'
  | 'PKI_INVALID_IP'
  | 'PKI_INVALID_NAME'
  | 'PKI_INVALID_TRUST_DOMAIN'
  | 'PKI_INVALID_URI'
  | 'PKI_KEY_INVALID'
  | 'PKI_NOT_A_CERTIFICATE'
  | 'PKI_INVALID_SERIAL'
  | 'PKI_WRONG_ISSUER';

export class PkiError extends Error {
  override readonly name = 'PkiError';
  constructor(
    readonly code: PkiErrorCode,
    /** The message without the code prefix. */
    readonly detail: string,
  ) {
    // Code first, like TlsError: greppable in logs and in `tessera: …` CLI output.
    super(`${code}: ${detail}`);
  }
}
