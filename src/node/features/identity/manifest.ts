// The node manifest: who this node is (entity URI), which Ed25519 key speaks for it, and which TLS key it
// serves with, signed by that Ed25519 key over the RFC 8785 canonical JSON of every other field. A peer
// trusts it only when the signature verifies with the key it carries, the key id is derived from that key,
// it is within its validity, and (fetch-manifest.ts) the TLS certificate it came over carries the same
// entity URI and key.
import { type KeyObject, sign, verify } from 'node:crypto';
import { z } from 'zod';
import { type ErrorCode, NodeError } from '../../errors.ts';
import { component } from '../../http/openapi/components.ts';
import { canonicalJson } from './canonical-json.ts';
import { describePublicKey, type NodeKey, publicKeyFromRaw } from './node-key.ts';

export const DEFAULT_MANIFEST_TTL_SECONDS = 24 * 60 * 60;
/** Clock difference tolerated between signer and verifier, on both ends of the validity window. */
export const MANIFEST_SKEW_MS = 5 * 60_000;

export type ManifestErrorCode = Extract<
  ErrorCode,
  | 'manifest_malformed'
  | 'signature_invalid'
  | 'key_id_mismatch'
  | 'public_key_mismatch'
  | 'manifest_expired'
  | 'manifest_not_yet_valid'
  | 'entity_mismatch'
  | 'tls_identity_mismatch'
  | 'tls_key_mismatch'
  | 'tls_certificate_rejected'
  | 'insecure_transport_refused'
  | 'peer_unreachable'
  | 'manifest_fetch_failed'
>;

/**
 * A refused manifest. `message` is the human detail only (callers print `<code>: <detail>`), like the
 * node's other wire errors. `unverified` is what the document claimed, for display, never for trust.
 */
export class ManifestError extends NodeError {
  override readonly name = 'ManifestError';
  constructor(
    override readonly code: ManifestErrorCode,
    detail: string,
    readonly unverified?: SignedManifest,
  ) {
    super(code, detail);
  }
}

const base64url = (bytes: number) =>
  z
    .string()
    .regex(/^[A-Za-z0-9_-]+$/, 'must be base64url without padding')
    // Canonical form only (round-trips exactly), so one key or signature has one spelling.
    .refine((s) => {
      const decoded = Buffer.from(s, 'base64url');
      return decoded.length === bytes && decoded.toString('base64url') === s;
    }, `must encode exactly ${bytes} bytes`);

const rfc3339 = z.iso.datetime({ offset: true });

/**
 * Reserved for key rotation (a later issue defines the event); any JSON objects are carried and covered
 * by the signature, nothing in them is trusted yet.
 */
export const RotationEventSchema = z.record(z.string(), component('JsonValue', z.json()));
export type RotationEvent = z.infer<typeof RotationEventSchema>;

/**
 * Where the node can be reached, by wire, when it offers more than its federation URL (a gRPC listener).
 * Signed like every field; older nodes and nodes without gRPC send none.
 */
export const ManifestEndpointsSchema = z.strictObject({
  https: z.string().max(2048).refine(URL.canParse, 'must be an absolute URL').optional(),
  grpc: z
    .string()
    .max(300)
    .regex(/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, 'must be host:port')
    .optional(),
});
export type ManifestEndpoints = z.infer<typeof ManifestEndpointsSchema>;

export const UnsignedManifestSchema = z.strictObject({
  entity_uri: z.string().min(1).max(2048).refine(URL.canParse, 'must be an absolute URI'),
  key_id: z.string().regex(/^[0-9a-f]{16}$/, 'must be 16 lower-case hex digits'),
  public_key: base64url(32),
  issued_at: rfc3339,
  expires_at: rfc3339,
  /** Hex SHA-256 of the TLS leaf's SubjectPublicKeyInfo; '' when the node federates without TLS (dev mode). */
  tls_spki_sha256: z.string().regex(/^([0-9a-f]{64})?$/, 'must be 64 lower-case hex digits'),
  /**
   * SHA-256 of the TLS leaf certificate (DER) as `openssl x509 -noout -fingerprint -sha256` prints it
   * (AB:CD:…): what the Stigmem rotation procedure records. Optional: older nodes and TLS-less dev nodes
   * send none. Signed like every field; the binding to the connection stays `tls_spki_sha256`.
   */
  tls_cert_fingerprint: z
    .string()
    .regex(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/, 'must be 32 upper-case hex pairs joined by colons')
    .optional(),
  rotation_events: z.array(RotationEventSchema).max(64),
  /** The issuer key (capability tokens), when the node issues them; both fields or neither. */
  issuer_key_id: z
    .string()
    .regex(/^[0-9a-f]{16}$/, 'must be 16 lower-case hex digits')
    .optional(),
  issuer_public_key: base64url(32).optional(),
  endpoints: ManifestEndpointsSchema.optional(),
});

export const SignedManifestSchema = component(
  'SignedManifest',
  UnsignedManifestSchema.extend({ signature: base64url(64) }).meta({
    description: "The node's signed self-description: Ed25519 over the JCS form of every other field.",
  }),
);

export type UnsignedManifest = z.infer<typeof UnsignedManifestSchema>;
export type SignedManifest = z.infer<typeof SignedManifestSchema>;

export interface BuildManifestOptions {
  nodeKey: Pick<NodeKey, 'privateKey' | 'publicKeyB64' | 'keyId'>;
  entityUri: string;
  /** Our TLS leaf's SPKI SHA-256 (hex); '' without TLS. */
  tlsSpkiSha256: string;
  /** Our TLS leaf's certificate SHA-256 (hex, any case, colons allowed); absent without TLS. */
  tlsCertSha256?: string;
  now: Date;
  ttlSeconds?: number;
  rotationEvents?: RotationEvent[];
  /** The capability issuer key to publish, if any. */
  issuerKey?: { keyId: string; publicKeyB64: string };
  /** The node's endpoints by wire, when it offers more than HTTPS. */
  endpoints?: ManifestEndpoints;
}

export function buildManifest(options: BuildManifestOptions): SignedManifest {
  const ttl = options.ttlSeconds ?? DEFAULT_MANIFEST_TTL_SECONDS;
  if (!Number.isInteger(ttl) || ttl <= 0)
    throw new TypeError(`ttlSeconds must be a positive integer (got ${ttl})`);
  const unsigned: UnsignedManifest = {
    entity_uri: options.entityUri,
    key_id: options.nodeKey.keyId,
    public_key: options.nodeKey.publicKeyB64,
    issued_at: options.now.toISOString(),
    expires_at: new Date(options.now.getTime() + ttl * 1000).toISOString(),
    tls_spki_sha256: options.tlsSpkiSha256.toLowerCase(),
    ...(options.tlsCertSha256 ? { tls_cert_fingerprint: opensslFingerprint(options.tlsCertSha256) } : {}),
    rotation_events: options.rotationEvents ?? [],
    ...(options.issuerKey
      ? { issuer_key_id: options.issuerKey.keyId, issuer_public_key: options.issuerKey.publicKeyB64 }
      : {}),
    ...(options.endpoints ? { endpoints: options.endpoints } : {}),
  };
  return { ...unsigned, signature: signCanonical(unsigned, options.nodeKey.privateKey) };
}

export interface VerifyManifestOptions {
  now: Date;
  /** The entity URI the caller expects (e.g. the one a peer was registered with). */
  expectedEntityUri?: string;
  /** The raw base64url public key the caller already trusts for this peer. */
  expectedPublicKey?: string;
  skewMs?: number;
}

/** Checks structure, signature, key id, expected key, validity and expected entity, in that order. */
export function verifyManifest(input: unknown, options: VerifyManifestOptions): SignedManifest {
  const parsed = SignedManifestSchema.safeParse(input);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    const where = first?.path.length ? first.path.join('.') : 'manifest';
    throw new ManifestError('manifest_malformed', `${where}: ${first?.message ?? 'invalid'}`);
  }
  const manifest = parsed.data;
  const fail = (code: ManifestErrorCode, detail: string) => new ManifestError(code, detail, manifest);

  const { signature, ...unsigned } = manifest;
  if (!verifyCanonical(unsigned, signature, manifest.public_key))
    throw fail(
      'signature_invalid',
      `the signature does not verify with the manifest's public key ${manifest.key_id}`,
    );
  const derived = describePublicKey(manifest.public_key);
  if (derived.keyId !== manifest.key_id)
    throw fail(
      'key_id_mismatch',
      `key_id ${manifest.key_id} is not derived from public_key (expected ${derived.keyId})`,
    );
  if ((manifest.issuer_key_id === undefined) !== (manifest.issuer_public_key === undefined))
    throw fail('manifest_malformed', 'issuer_key_id and issuer_public_key come together or not at all');
  if (
    manifest.issuer_public_key !== undefined &&
    describePublicKey(manifest.issuer_public_key).keyId !== manifest.issuer_key_id
  )
    throw fail(
      'key_id_mismatch',
      `issuer_key_id ${manifest.issuer_key_id} is not derived from issuer_public_key`,
    );
  if (options.expectedPublicKey !== undefined && options.expectedPublicKey !== manifest.public_key)
    throw fail(
      'public_key_mismatch',
      `manifest key ${manifest.key_id} is not the expected key ${describePublicKey(options.expectedPublicKey).keyId}`,
    );

  const skew = options.skewMs ?? MANIFEST_SKEW_MS;
  const now = options.now.getTime();
  const issued = Date.parse(manifest.issued_at);
  const expires = Date.parse(manifest.expires_at);
  if (expires <= issued) throw fail('manifest_malformed', 'expires_at is not after issued_at');
  if (now > expires + skew) throw fail('manifest_expired', `manifest expired at ${manifest.expires_at}`);
  if (now < issued - skew)
    throw fail('manifest_not_yet_valid', `manifest issued in the future (${manifest.issued_at})`);

  if (options.expectedEntityUri !== undefined && options.expectedEntityUri !== manifest.entity_uri)
    throw fail(
      'entity_mismatch',
      `manifest is for ${manifest.entity_uri}, expected ${options.expectedEntityUri}`,
    );
  return manifest;
}

/** Hex SHA-256 → `AB:CD:…`, the form openssl prints and the Stigmem rotation procedure records. */
export function opensslFingerprint(sha256Hex: string): string {
  const hex = sha256Hex.replaceAll(':', '').toUpperCase();
  if (!/^[0-9A-F]{64}$/.test(hex)) throw new TypeError('a SHA-256 fingerprint is 64 hex digits');
  return (hex.match(/../g) as string[]).join(':');
}

function signCanonical(value: UnsignedManifest, privateKey: KeyObject): string {
  return sign(null, Buffer.from(canonicalJson(value), 'utf8'), privateKey).toString('base64url');
}

function verifyCanonical(value: UnsignedManifest, signature: string, publicKeyB64: string): boolean {
  let publicKey: KeyObject;
  try {
    publicKey = publicKeyFromRaw(publicKeyB64);
  } catch {
    return false;
  }
  return verify(
    null,
    Buffer.from(canonicalJson(value), 'utf8'),
    publicKey,
    Buffer.from(signature, 'base64url'),
  );
}
