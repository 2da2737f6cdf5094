// The node's one error catalog. Domain code throws NodeError with a stable code; nothing below the route
// layer knows about HTTP. Each code's HTTP status (and the gRPC status a gRPC listener will use) and a
// one-line meaning live in this table, once. Codes are the wire's `error` field: clients, scripts and the
// audit log match on them, so a code is never renamed, only added.

export type GrpcStatus =
  | 'INVALID_ARGUMENT'
  | 'NOT_FOUND'
  | 'ALREADY_EXISTS'
  | 'PERMISSION_DENIED'
  | 'UNAUTHENTICATED'
  | 'RESOURCE_EXHAUSTED'
  | 'FAILED_PRECONDITION'
  | 'UNAVAILABLE'
  | 'INTERNAL';

export interface ErrorSpec {
  http: number;
  grpc: GrpcStatus;
  /** What the code means, for operators and the API description (the thrown detail says what happened). */
  message: string;
}

const spec = (http: number, grpc: GrpcStatus, message: string): ErrorSpec => ({ http, grpc, message });

export const ERROR_CATALOG = {
  // The request itself.
  bad_request: spec(400, 'INVALID_ARGUMENT', 'the request is malformed'),
  invalid_json: spec(400, 'INVALID_ARGUMENT', 'the request body is not valid JSON'),
  payload_too_large: spec(413, 'RESOURCE_EXHAUSTED', 'the request body is over the size limit'),
  uri_too_long: spec(414, 'INVALID_ARGUMENT', 'a path parameter is too long'),
  unsupported_media_type: spec(415, 'INVALID_ARGUMENT', 'the body is not of a media type this route takes'),
  validation_failed: spec(422, 'INVALID_ARGUMENT', 'a field of the request is invalid (the detail names it)'),
  not_found: spec(404, 'NOT_FOUND', 'no such route or record'),
  internal: spec(500, 'INTERNAL', 'an unexpected error; the node log has the details'),
  store_unavailable: spec(503, 'UNAVAILABLE', "the node's database is unavailable; retry later"),
  // API authentication, permissions and quotas.
  unauthorized: spec(401, 'UNAUTHENTICATED', 'no valid API key was presented'),
  forbidden: spec(403, 'PERMISSION_DENIED', 'the API key lacks the permission this route needs'),
  certificate_binding_mismatch: spec(
    401,
    'UNAUTHENTICATED',
    'the credential is bound to a client certificate (cnf x5t#S256) the request did not present',
  ),
  forwarded_cert_invalid: spec(
    400,
    'INVALID_ARGUMENT',
    "a trusted proxy's forwarded client-certificate header is malformed (the detail names what)",
  ),
  forwarded_cert_rejected: spec(
    403,
    'PERMISSION_DENIED',
    'the client certificate a trusted proxy forwarded was refused (chain, validity, purpose or authorizer)',
  ),
  too_many_auth_failures: spec(
    429,
    'RESOURCE_EXHAUSTED',
    'too many failed authentications from this address',
  ),
  quota_exceeded: spec(429, 'RESOURCE_EXHAUSTED', 'the principal used its hourly quota for this dimension'),
  // Facts.
  cid_mismatch: spec(422, 'INVALID_ARGUMENT', "a fact's cid is not the hash of its content"),
  scope_not_federated: spec(422, 'INVALID_ARGUMENT', 'a local-scope fact arrived by federation'),
  hlc_skew: spec(
    422,
    'FAILED_PRECONDITION',
    "an HLC is further ahead of this node's wall clock than allowed",
  ),
  clock_skew: spec(
    422,
    'FAILED_PRECONDITION',
    "a peer's fact is dated further ahead than TESSERA_FEDERATION_MAX_CLOCK_SKEW_MS: refused, never adopted",
  ),
  origin_spoofed: spec(422, 'PERMISSION_DENIED', 'a peer sent a fact claiming to originate at this node'),
  origin_unverified: spec(
    422,
    'PERMISSION_DENIED',
    "a replicated fact's origin signature is missing, unknown or does not verify with its origin's keys",
  ),
  id_conflict: spec(
    409,
    'ALREADY_EXISTS',
    'the fact id belongs to another content (ids are derived from CIDs)',
  ),
  // Store input (a cursor or record the store did not issue or accept).
  invalid_cursor: spec(422, 'INVALID_ARGUMENT', 'the cursor was not issued by this node'),
  invalid_limit: spec(422, 'INVALID_ARGUMENT', 'the page limit is out of range'),
  invalid_record: spec(422, 'INVALID_ARGUMENT', 'the record cannot be stored'),
  api_key_exists: spec(409, 'ALREADY_EXISTS', 'an API key with this id exists'),
  unknown_peer: spec(404, 'NOT_FOUND', 'no such peer'),
  // Peers (admin API).
  peer_exists: spec(409, 'ALREADY_EXISTS', 'the peer is already known'),
  peer_is_self: spec(422, 'INVALID_ARGUMENT', 'the URL is this node'),
  fingerprint_mismatch: spec(422, 'INVALID_ARGUMENT', "the fingerprint given is not the peer's key"),
  peer_manifest_refused: spec(502, 'UNAVAILABLE', "the peer's manifest could not be fetched or verified"),
  federation_disabled: spec(
    409,
    'FAILED_PRECONDITION',
    'federation is switched off on this node (TESSERA_FEDERATION_ENABLED=false)',
  ),
  // Capabilities.
  ttl_too_long: spec(422, 'INVALID_ARGUMENT', 'the capability would outlive the maximum lifetime'),
  // Federation requests (peer tokens bound to the peer's certificate).
  token_missing: spec(401, 'UNAUTHENTICATED', 'federation requests need a peer token'),
  token_invalid: spec(401, 'UNAUTHENTICATED', 'the peer token is malformed, expired or wrongly signed'),
  token_replayed: spec(401, 'UNAUTHENTICATED', 'the peer token (jti) was used before'),
  token_binding_mismatch: spec(
    401,
    'UNAUTHENTICATED',
    "the token issuer is not the connection's certificate",
  ),
  peer_not_approved: spec(403, 'PERMISSION_DENIED', 'the peer is not approved on this node'),
  peer_revoked: spec(403, 'PERMISSION_DENIED', 'the peer was revoked'),
  peer_address_not_allowed: spec(
    403,
    'PERMISSION_DENIED',
    "the request comes from an address outside the peer's allowlist (allowed_cidrs)",
  ),
  // Signed manifests (a peer's, fetched and verified).
  manifest_malformed: spec(502, 'UNAVAILABLE', 'the manifest is not a well-formed signed manifest'),
  signature_invalid: spec(502, 'UNAVAILABLE', "the manifest's signature does not verify"),
  key_id_mismatch: spec(502, 'UNAVAILABLE', "the manifest's key id is not its public key's"),
  public_key_mismatch: spec(
    502,
    'UNAVAILABLE',
    'the manifest is signed by a key other than the one approved',
  ),
  manifest_expired: spec(502, 'UNAVAILABLE', 'the manifest is past its validity'),
  manifest_not_yet_valid: spec(502, 'UNAVAILABLE', 'the manifest is not valid yet'),
  entity_mismatch: spec(502, 'UNAVAILABLE', 'the manifest names another entity than expected'),
  tls_identity_mismatch: spec(502, 'UNAVAILABLE', "the manifest's entity is not the TLS certificate's"),
  tls_key_mismatch: spec(502, 'UNAVAILABLE', "the manifest's TLS key is not the one the peer presented"),
  tls_certificate_rejected: spec(502, 'UNAVAILABLE', "the peer's TLS certificate was refused"),
  insecure_transport_refused: spec(502, 'UNAVAILABLE', 'a manifest over plain HTTP is refused in mTLS mode'),
  peer_unreachable: spec(502, 'UNAVAILABLE', 'the peer could not be reached'),
  manifest_fetch_failed: spec(502, 'UNAVAILABLE', 'the manifest could not be fetched'),
  // Hybrid logical clocks.
  hlc_malformed: spec(422, 'INVALID_ARGUMENT', 'an HLC is not WWWWWWWWWWWWWWW-CCCCCC'),
  hlc_out_of_range: spec(422, 'INVALID_ARGUMENT', 'an HLC or the wall clock is out of range'),
  // Key rotation and the transparency log.
  invalid_kind: spec(422, 'INVALID_ARGUMENT', 'the key kind is not node or issuer'),
  dual_trust_too_short: spec(422, 'INVALID_ARGUMENT', 'the dual-trust window is shorter than the minimum'),
  dual_trust_invalid: spec(422, 'INVALID_ARGUMENT', 'the dual-trust window is not a duration'),
  key_missing: spec(500, 'FAILED_PRECONDITION', 'a key file is missing'),
  key_unreadable: spec(500, 'FAILED_PRECONDITION', 'a key file cannot be read or parsed'),
  rotation_in_progress: spec(409, 'FAILED_PRECONDITION', 'another rotation holds the lock'),
  rotation_event_invalid: spec(502, 'INVALID_ARGUMENT', 'a rotation event does not verify'),
  rotation_unproven: spec(401, 'UNAUTHENTICATED', 'a new peer key is not proven by a signed rotation event'),
  tlog_locked: spec(409, 'FAILED_PRECONDITION', 'the transparency log is locked by another writer'),
  tlog_corrupt: spec(500, 'INTERNAL', 'the transparency log does not verify'),
  write_failed: spec(500, 'INTERNAL', 'a key or log file could not be written'),
  rotation_pending: spec(
    409,
    'FAILED_PRECONDITION',
    'a rotation of this key is logged but its new key is not installed yet',
  ),
  key_retired: spec(409, 'FAILED_PRECONDITION', 'the key given was replaced by a logged rotation'),
  key_unlogged: spec(
    409,
    'FAILED_PRECONDITION',
    "the key in use is not the one the transparency log's rotations lead to",
  ),
  key_fixed: spec(409, 'FAILED_PRECONDITION', 'the key is given by a file the rotation does not replace'),
  // The audit log.
  audit_write_failed: spec(500, 'INTERNAL', 'an audit entry could not be written; the action was not done'),
  // Calls this node makes to a peer.
  peer_call_failed: spec(502, 'UNAVAILABLE', 'a peer refused a call or answered something unusable'),
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERROR_CATALOG;

/** A refusal of the node's domain: a catalog code, a human detail, and optional extra body fields. */
export class NodeError extends Error {
  override readonly name: string = 'NodeError';
  constructor(
    readonly code: ErrorCode,
    detail: string,
    /** Extra top-level fields of the error body (e.g. quota details). */
    readonly extra: Record<string, unknown> = {},
    options?: { cause?: unknown },
  ) {
    super(detail, options);
  }
}

export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && Object.hasOwn(ERROR_CATALOG, code);
}

/** The HTTP status of a catalog code. */
export const httpStatusOf = (code: ErrorCode): number => ERROR_CATALOG[code].http;
