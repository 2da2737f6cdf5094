// A capability token explained for an operator (`tessera capability verify`): what it claims, which issuer
// key signed it and whether that key is the current one or a retiring one, and the first reason it is
// refused, in the order the node checks (CapabilityService.verify): form, issuer, key, signature, lifetime,
// revocation. Claims are reported even when the signature fails, marked unverified, so the operator sees
// what the token pretends to be. Never returns or quotes the token itself.
import type { KeyObject } from 'node:crypto';
import { decodeProtectedHeader } from 'jose';
import type { CapabilityStore, RevocationRecord } from '../../../store/ports/capabilities.ts';
import {
  CAPABILITY_SKEW_S,
  type Capability,
  type CapabilityRefusal,
  capabilityOf,
  unverifiedClaims,
  verifyCapabilityToken,
} from './token.ts';

/** An issuer key a verifier accepts: the issuer's current key, or a rotated-out one inside its window. */
export interface TrustedIssuerKey {
  keyId: string;
  publicKey: KeyObject;
  status: 'current' | 'retiring';
  /** End of the dual-trust window of a retiring key (RFC 3339); null for the current key. */
  notAfter: string | null;
}

/** The keys of `issuer` accepted now; null when the issuer is neither this node nor an approved peer. */
export type TrustedIssuerKeys = (issuer: string, now: Date) => Promise<TrustedIssuerKey[] | null>;

export type ExplainRefusal = CapabilityRefusal | 'unknown_key';

export interface CapabilityExplanation {
  valid: boolean;
  /** The first reason the token is refused (absent when valid). */
  reason?: ExplainRefusal;
  detail?: string;
  /** What the token claims; trusted only when `signatureVerified`. Absent when it is not a capability. */
  capability?: Capability;
  selfIssued: boolean;
  /** The `kid` the token names. */
  keyId?: string;
  /** The trusted key that verified the signature (or, when none did, the one its kid names). */
  key?: Omit<TrustedIssuerKey, 'publicKey'>;
  signatureVerified: boolean;
  /** Past its expiry (with the tolerated clock skew); null when not known. */
  expired: boolean | null;
  /** Looked up only once the signature verified (a forged token says nothing about real ones). */
  revocation: RevocationRecord | null;
}

export async function explainCapability(
  token: string,
  deps: {
    selfEntityUri: string;
    issuerKeys: TrustedIssuerKeys;
    revocations: () => Promise<Pick<CapabilityStore, 'getRevocation'>>;
    now: Date;
  },
): Promise<CapabilityExplanation> {
  const base = { selfIssued: false, signatureVerified: false, expired: null, revocation: null };
  const claimed = unverifiedClaims(token);
  if ('problem' in claimed) return { ...base, valid: false, reason: 'malformed', detail: claimed.problem };
  const { claims } = claimed;
  const capability = capabilityOf(claims);
  const kid = decodeProtectedHeader(token).kid;
  const expired = deps.now.getTime() / 1000 >= claims.exp + CAPABILITY_SKEW_S;
  const partial = {
    ...base,
    capability,
    selfIssued: claims.iss === deps.selfEntityUri,
    ...(typeof kid === 'string' ? { keyId: kid.slice(0, 64) } : {}),
    expired,
  };
  const refuse = (reason: ExplainRefusal, detail: string, extra: Partial<CapabilityExplanation> = {}) => ({
    ...partial,
    ...extra,
    valid: false,
    reason,
    detail,
  });

  const keys = await deps.issuerKeys(claims.iss, deps.now);
  if (!keys)
    return refuse(
      'unknown_issuer',
      `${claims.iss} is neither this node nor an approved peer whose issuer key is known`,
    );
  // Like the node, any trusted key may verify (the kid only says which one to report).
  for (const candidate of keys) {
    const verdict = await verifyCapabilityToken(token, claims, [candidate.publicKey], deps.now);
    if (!verdict.valid && verdict.reason === 'signature_invalid') continue;
    const { publicKey: _, ...key } = candidate;
    const verified = { key, signatureVerified: true };
    const revocations = await deps.revocations();
    const record = await revocations.getRevocation(claims.iss, claims.jti);
    const revocation = record && record.issuer === claims.iss ? record : null;
    if (!verdict.valid) return refuse(verdict.reason, verdict.detail, { ...verified, revocation });
    if (revocation)
      return refuse('revoked', `capability ${claims.jti} was revoked at ${revocation.revoked_at}`, {
        ...verified,
        revocation,
      });
    return { ...partial, ...verified, revocation: null, valid: true };
  }
  const named = keys.find((k) => k.keyId === kid);
  if (!named)
    return refuse(
      'unknown_key',
      `key ${partial.keyId ?? '(none named)'} is not an issuer key ${claims.iss} uses now (current ${keys[0]?.keyId ?? 'none'}${
        keys.length > 1
          ? `, retiring ${keys
              .slice(1)
              .map((k) => k.keyId)
              .join(', ')}`
          : ''
      }): it was rotated out and its dual-trust window ended, or it never was this issuer's`,
    );
  const { publicKey: _, ...key } = named;
  return refuse(
    'signature_invalid',
    `the signature does not verify with the issuer key ${named.keyId} it names: the token was altered or forged`,
    { key },
  );
}
