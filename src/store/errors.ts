// Typed errors of the store. Input errors (a bad cursor, a duplicate peer) carry a string `code` the HTTP
// layer maps to 4xx; StoreError is everything else the operator must act on (schema too new, closed store).

export type StoreInputErrorCode =
  | 'api_key_exists'
  | 'id_conflict'
  | 'invalid_cursor'
  | 'invalid_limit'
  | 'invalid_record'
  | 'peer_exists'
  | 'unknown_peer';

export class StoreInputError extends Error {
  constructor(
    readonly code: StoreInputErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'StoreInputError';
  }
}

export type StoreErrorCode =
  | 'schema_too_new'
  | 'store_open_failed'
  | 'store_closed'
  | 'store_unavailable'
  | 'tx_finished';

export class StoreError extends Error {
  constructor(
    readonly code: StoreErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'StoreError';
  }
}
