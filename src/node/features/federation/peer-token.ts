// Federation peer tokens: an EdDSA JWT on every federation request, signed by the caller's node key.
// mTLS proves which certificate is on the connection; the token proves the node key of an approved peer,
// and `iss` must equal the certificate's identity so neither can be borrowed from another peer.

import type { KeyObject } from 'node:crypto';
import { randomUUID } from 'node:crypto';
import { decodeJwt, errors, jwtVerify, SignJWT } from 'jose';
import { type ErrorCode, NodeError } from '../../errors.ts';

/** The longest lifetime a peer token may claim (exp - iat). */
export const MAX_TOKEN_TTL_S = 300;
const DEFAULT_TTL_S = 60;

export function mintPeerToken(options: {
  privateKey: KeyObject;
  keyId: string;
  issuer: string;
  audience: string;
  now: Date;
  ttlSeconds?: number;
}): Promise<string> {
  const iat = Math.floor(options.now.getTime() / 1000);
  return new SignJWT({})
    .setProtectedHeader({ alg: 'EdDSA', typ: 'JWT', kid: options.keyId })
    .setIssuer(options.issuer)
    .setSubject(options.issuer)
    .setAudience(options.audience)
    .setIssuedAt(iat)
    .setExpirationTime(iat + (options.ttlSeconds ?? DEFAULT_TTL_S))
    .setJti(randomUUID())
    .sign(options.privateKey);
}

export type PeerTokenErrorCode = Extract<
  ErrorCode,
  | 'token_missing'
  | 'token_invalid'
  | 'token_replayed'
  | 'token_binding_mismatch'
  | 'peer_not_approved'
  | 'peer_revoked'
  | 'peer_address_not_allowed'
>;

/** A refused federation request: counted and audited by its code before it is answered. */
export class PeerTokenError extends NodeError {
  override readonly name = 'PeerTokenError';
  constructor(
    override readonly code: PeerTokenErrorCode,
    detail: string,
  ) {
    super(code, detail);
  }
}

/** The issuer a token claims, read WITHOUT verifying it (only to find which key to verify it with). */
export function claimedIssuer(token: string): string {
  let iss: unknown;
  try {
    iss = decodeJwt(token).iss;
  } catch {
    throw new PeerTokenError('token_invalid', 'the peer token is not a JWT');
  }
  if (typeof iss !== 'string' || iss === '')
    throw new PeerTokenError('token_invalid', 'the peer token has no iss');
  return iss;
}

export interface VerifiedPeerToken {
  issuer: string;
  jti: string;
  /** `exp` and `iat`, in seconds. */
  expiresAt: number;
  issuedAt: number;
}

/** Verifies signature, audience, lifetime and claims. Replay (jti) is the caller's job: it needs the store. */
export async function verifyPeerToken(
  token: string,
  options: { publicKeys: KeyObject[]; issuer: string; audience: string; now: Date },
): Promise<VerifiedPeerToken> {
  let lastError: unknown;
  // More than one key while a rotated key is still inside its dual-trust window.
  for (const key of options.publicKeys) {
    try {
      const { payload } = await jwtVerify(token, key, {
        algorithms: ['EdDSA'],
        issuer: options.issuer,
        subject: options.issuer,
        audience: options.audience,
        currentDate: options.now,
        maxTokenAge: MAX_TOKEN_TTL_S,
        clockTolerance: 5,
        requiredClaims: ['iss', 'sub', 'aud', 'iat', 'exp', 'jti'],
      });
      const exp = payload.exp as number;
      const iat = payload.iat as number;
      if (exp - iat > MAX_TOKEN_TTL_S)
        throw new PeerTokenError('token_invalid', `token lifetime ${exp - iat}s exceeds ${MAX_TOKEN_TTL_S}s`);
      if (typeof payload.jti !== 'string' || payload.jti.length < 8 || payload.jti.length > 128)
        throw new PeerTokenError('token_invalid', 'token jti must be a string of 8 to 128 characters');
      return { issuer: options.issuer, jti: payload.jti, expiresAt: exp, issuedAt: iat };
    } catch (error) {
      if (error instanceof PeerTokenError) throw error;
      lastError = error;
      if (!(error instanceof errors.JWSSignatureVerificationFailed)) break;
    }
  }
  throw new PeerTokenError('token_invalid', describeJoseError(lastError));
}

function describeJoseError(error: unknown): string {
  if (error instanceof errors.JWTExpired) return 'the peer token has expired';
  if (error instanceof errors.JWTClaimValidationFailed)
    return `the peer token's ${error.claim} claim is not acceptable (${error.reason})`;
  if (error instanceof errors.JWSSignatureVerificationFailed)
    return "the peer token's signature does not verify with the peer's approved key";
  if (error instanceof errors.JOSEError) return `the peer token is invalid (${error.code})`;
  return 'the peer token is invalid';
}
