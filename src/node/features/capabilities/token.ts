// Capability tokens: "subject may <verb> <object> until expires_at, says issuer", an EdDSA JWT (jose, like
// the peer tokens; DESIGN.md fixes EdDSA JWT for tokens) signed by the issuer's ISSUER key, never its node
// key. Header {alg: EdDSA, typ: tessera-cap+jwt, kid: issuer key id}: the explicit type keeps a capability
// from ever being accepted as a peer token or the other way round. Claims: iss, sub, verb, object, iat,
// exp, jti (= the capability id). Lifetime at most 90 days, checked when issuing AND when verifying.
import type { KeyObject } from 'node:crypto';
import { randomUUID } from 'node:crypto';
import { compactVerify, decodeJwt, decodeProtectedHeader, SignJWT } from 'jose';
import { z } from 'zod';

export const CAPABILITY_TOKEN_TYPE = 'tessera-cap+jwt';
export const MAX_CAPABILITY_TTL_S = 90 * 86_400;
/** Clock difference tolerated between issuer and verifier. */
export const CAPABILITY_SKEW_S = 60;

function hasControlCharacters(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const code = s.charCodeAt(i);
    if (code < 0x20 || code === 0x7f) return true;
  }
  return false;
}

/** A non-empty string of at most `max` characters without control characters. */
export const boundedText = (max: number) =>
  z
    .string()
    .min(1)
    .max(max)
    .refine((s) => !hasControlCharacters(s), 'must not contain control characters');
const text = boundedText;

export const CapabilityClaimsSchema = z.object({
  iss: text(2048).refine(URL.canParse, 'must be an absolute URI'),
  sub: text(2048),
  verb: text(128),
  object: text(2048),
  iat: z.number().int().nonnegative(),
  exp: z.number().int().positive(),
  jti: z.string().regex(/^[A-Za-z0-9_-]{8,128}$/, 'must be 8 to 128 characters of [A-Za-z0-9_-]'),
  /** RFC 8705 confirmation: the capability may only be presented with this client certificate. */
  cnf: z
    .strictObject({
      'x5t#S256': z.string().regex(/^[A-Za-z0-9_-]{43}$/, 'must be a base64url SHA-256 (43 characters)'),
    })
    .optional(),
});
export type CapabilityClaims = z.infer<typeof CapabilityClaimsSchema>;

/** A capability as the API shows it (wire names, RFC 3339 times). */
export interface Capability {
  id: string;
  issuer: string;
  subject: string;
  verb: string;
  object: string;
  issued_at: string;
  expires_at: string;
  /** Present when the capability is bound to a client certificate (RFC 8705 `x5t#S256`). */
  cnf?: { 'x5t#S256': string };
}

export function capabilityOf(claims: CapabilityClaims): Capability {
  return {
    id: claims.jti,
    issuer: claims.iss,
    subject: claims.sub,
    verb: claims.verb,
    object: claims.object,
    issued_at: new Date(claims.iat * 1000).toISOString(),
    expires_at: new Date(claims.exp * 1000).toISOString(),
    ...(claims.cnf ? { cnf: { 'x5t#S256': claims.cnf['x5t#S256'] } } : {}),
  };
}

export async function mintCapabilityToken(options: {
  issuerKey: { privateKey: KeyObject; keyId: string };
  issuer: string;
  subject: string;
  verb: string;
  object: string;
  issuedAt: Date;
  expiresAt: Date;
  id?: string;
  /** Bind to a client certificate: base64url SHA-256 of its DER. */
  certSha256?: string | undefined;
}): Promise<{ token: string; claims: CapabilityClaims }> {
  const claims = CapabilityClaimsSchema.parse({
    iss: options.issuer,
    sub: options.subject,
    verb: options.verb,
    object: options.object,
    iat: Math.floor(options.issuedAt.getTime() / 1000),
    exp: Math.floor(options.expiresAt.getTime() / 1000),
    jti: options.id ?? randomUUID(),
    ...(options.certSha256 ? { cnf: { 'x5t#S256': options.certSha256 } } : {}),
  });
  if (claims.exp - claims.iat > MAX_CAPABILITY_TTL_S || claims.exp <= claims.iat)
    throw new RangeError(`a capability lives more than 0 s and at most ${MAX_CAPABILITY_TTL_S} s`);
  const token = await new SignJWT({
    verb: claims.verb,
    object: claims.object,
    ...(claims.cnf ? { cnf: claims.cnf } : {}),
  })
    .setProtectedHeader({ alg: 'EdDSA', typ: CAPABILITY_TOKEN_TYPE, kid: options.issuerKey.keyId })
    .setIssuer(claims.iss)
    .setSubject(claims.sub)
    .setIssuedAt(claims.iat)
    .setExpirationTime(claims.exp)
    .setJti(claims.jti)
    .sign(options.issuerKey.privateKey);
  return { token, claims };
}

export const CAPABILITY_REFUSALS = [
  'malformed',
  'unknown_issuer',
  'signature_invalid',
  'ttl_too_long',
  'not_yet_valid',
  'expired',
  'revoked',
  'mismatch',
  'certificate_binding_mismatch',
] as const;
export type CapabilityRefusal = (typeof CAPABILITY_REFUSALS)[number];

export type CapabilityVerdict =
  | { valid: true; capability: Capability }
  | { valid: false; reason: CapabilityRefusal; detail: string; capability?: Capability };

/**
 * The claims a token says it has, before any check: only to find the issuer's keys. Null when it is not a
 * capability token at all.
 */
export function unverifiedClaims(token: string): { claims: CapabilityClaims } | { problem: string } {
  let header: ReturnType<typeof decodeProtectedHeader>;
  let payload: unknown;
  try {
    header = decodeProtectedHeader(token);
    payload = decodeJwt(token);
  } catch {
    return { problem: 'the token is not a JWT' };
  }
  if (header.alg !== 'EdDSA' || header.typ !== CAPABILITY_TOKEN_TYPE)
    return {
      problem: `the token is not a capability token (typ ${String(header.typ)}, alg ${String(header.alg)})`,
    };
  const parsed = CapabilityClaimsSchema.safeParse(payload);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    return { problem: `claim ${first?.path.join('.') || ''}: ${first?.message ?? 'invalid'}` };
  }
  return { claims: parsed.data };
}

/** Signature with any of `keys`, then lifetime and validity at `now`. Revocation is the caller's. */
export async function verifyCapabilityToken(
  token: string,
  claims: CapabilityClaims,
  keys: readonly KeyObject[],
  now: Date,
): Promise<CapabilityVerdict> {
  const capability = capabilityOf(claims);
  const refuse = (reason: CapabilityRefusal, detail: string): CapabilityVerdict => ({
    valid: false,
    reason,
    detail,
    capability,
  });
  let verified = false;
  for (const key of keys) {
    try {
      await compactVerify(token, key, { algorithms: ['EdDSA'] });
      verified = true;
      break;
    } catch {
      // try the next key (a rotated-out issuer key inside its window)
    }
  }
  if (!verified)
    return refuse('signature_invalid', `the signature does not verify with any issuer key of ${claims.iss}`);
  if (claims.exp - claims.iat > MAX_CAPABILITY_TTL_S)
    return refuse(
      'ttl_too_long',
      `the capability claims a lifetime over 90 days (${claims.exp - claims.iat} s)`,
    );
  if (claims.exp <= claims.iat) return refuse('malformed', 'exp is not after iat');
  const nowS = now.getTime() / 1000;
  if (claims.iat > nowS + CAPABILITY_SKEW_S)
    return refuse('not_yet_valid', `the capability was issued in the future (${capability.issued_at})`);
  if (nowS >= claims.exp + CAPABILITY_SKEW_S)
    return refuse('expired', `the capability expired at ${capability.expires_at}`);
  return { valid: true, capability };
}
