// Issue, verify and revoke capability tokens. Issuing signs with the current issuer key and records the
// capability (not the token); verifying checks the issuer's keys, the lifetime and the local revocation
// list, which holds our own revocations and those replicated from the issuers we peer with.
import type { CapabilityStore, RevocationRecord } from '../../../store/ports/capabilities.ts';
import type { Clock } from '../../../tls/clock.ts';
import { NodeError } from '../../errors.ts';
import type { NodeKey } from '../identity/node-key.ts';
import type { IssuerKeyResolver } from './issuer-keys.ts';
import {
  type Capability,
  type CapabilityVerdict,
  capabilityOf,
  MAX_CAPABILITY_TTL_S,
  mintCapabilityToken,
  unverifiedClaims,
  verifyCapabilityToken,
} from './token.ts';

export const DEFAULT_CAPABILITY_TTL_S = 86_400;

export interface IssueRequest {
  subject: string;
  verb: string;
  object: string;
  /** RFC 3339; or ttl_seconds; default 1 day. At most 90 days from now. */
  expires_at?: string;
  ttl_seconds?: number;
  /** Bind the capability to a client certificate (base64url SHA-256 of its DER, `cnf` `x5t#S256`). */
  cert_sha256?: string;
}

export interface IssuedCapability extends Capability {
  token: string;
}

export interface CapabilityServiceOptions {
  store: CapabilityStore;
  selfEntityUri: string;
  /** The issuer KeyRing (its current key signs). */
  issuerKey: () => NodeKey;
  issuerKeys: IssuerKeyResolver;
  clock: Clock;
  onIssued?(capability: Capability, principal?: string): void;
  onRevoked?(revocation: RevocationRecord, principal?: string): void;
}

export class CapabilityService {
  constructor(private readonly options: CapabilityServiceOptions) {}

  async issue(request: IssueRequest, principal?: string): Promise<IssuedCapability> {
    const now = this.options.clock();
    const expiresAt = this.#expiry(request, now);
    const key = this.options.issuerKey();
    const { token, claims } = await mintCapabilityToken({
      issuerKey: key,
      issuer: this.options.selfEntityUri,
      subject: request.subject,
      verb: request.verb,
      object: request.object,
      issuedAt: now,
      expiresAt,
      certSha256: request.cert_sha256,
    });
    const capability = capabilityOf(claims);
    await this.options.store.addCapability({
      id: capability.id,
      issuer: capability.issuer,
      subject: capability.subject,
      verb: capability.verb,
      object: capability.object,
      keyId: key.keyId,
      issuedAt: capability.issued_at,
      expiresAt: capability.expires_at,
    });
    this.options.onIssued?.(capability, principal);
    return { ...capability, token };
  }

  /**
   * Never throws for a bad token: the verdict says why it is refused. `presentedCert`: the `x5t#S256` of the
   * client certificate the token arrived with (null: none); a bound capability needs it to match. Left out
   * (offline checks such as `tessera capability verify`), the binding is shown but not checked.
   */
  async verify(
    token: string,
    expect: { verb?: string; object?: string } = {},
    presentedCert?: string | null,
  ): Promise<CapabilityVerdict> {
    const now = this.options.clock();
    const claimed = unverifiedClaims(token);
    if ('problem' in claimed) return { valid: false, reason: 'malformed', detail: claimed.problem };
    const { claims } = claimed;
    const keys = await this.options.issuerKeys(claims.iss, now);
    if (!keys)
      return {
        valid: false,
        reason: 'unknown_issuer',
        detail: `${claims.iss} is neither this node nor an approved peer whose issuer key is known`,
      };
    const verdict = await verifyCapabilityToken(token, claims, keys, now);
    if (!verdict.valid) return verdict;
    // Only the issuer may revoke: the lookup is by (issuer, id), and the check below says so again, so a
    // record another peer published under the same id never counts.
    const revoked = await this.options.store.getRevocation(claims.iss, claims.jti);
    if (revoked && revoked.issuer === claims.iss)
      return {
        valid: false,
        reason: 'revoked',
        detail: `capability ${claims.jti} was revoked at ${revoked.revoked_at}`,
        capability: verdict.capability,
      };
    const bound = verdict.capability.cnf?.['x5t#S256'];
    if (bound && presentedCert !== undefined && presentedCert !== bound)
      return {
        valid: false,
        reason: 'certificate_binding_mismatch',
        detail: presentedCert
          ? 'the capability is bound to another client certificate than the one presented'
          : 'the capability is bound to a client certificate, and the request presented none',
        capability: verdict.capability,
      };
    for (const field of ['verb', 'object'] as const) {
      const wanted = expect[field];
      if (wanted !== undefined && wanted !== verdict.capability[field])
        return {
          valid: false,
          reason: 'mismatch',
          detail: `the capability grants ${field} ${JSON.stringify(verdict.capability[field])}, not ${JSON.stringify(wanted)}`,
          capability: verdict.capability,
        };
    }
    return verdict;
  }

  /** Revokes a capability this node issued; idempotent (the first revocation stays). */
  async revoke(
    id: string,
    reason: string | null = null,
    principal?: string,
  ): Promise<{ revocation: RevocationRecord; alreadyRevoked: boolean }> {
    const capability = await this.options.store.getCapability(id);
    if (!capability || capability.issuer !== this.options.selfEntityUri)
      throw new NodeError('not_found', `no capability ${id} issued by this node`);
    const revocation: RevocationRecord = {
      capability_id: id,
      issuer: capability.issuer,
      expires_at: capability.expiresAt,
      revoked_at: this.options.clock().toISOString(),
      reason,
    };
    const added = await this.options.store.addRevocation(revocation);
    if (!added) {
      // Only our own record makes it "already revoked" (a peer's record with this id is not ours).
      const existing = await this.options.store.getRevocation(capability.issuer, id);
      return { revocation: existing ?? revocation, alreadyRevoked: true };
    }
    this.options.onRevoked?.(revocation, principal);
    return { revocation, alreadyRevoked: false };
  }

  #expiry(request: IssueRequest, now: Date): Date {
    let expires: number;
    if (request.expires_at !== undefined && request.ttl_seconds !== undefined)
      throw new NodeError('validation_failed', 'give expires_at or ttl_seconds, not both');
    if (request.expires_at !== undefined) expires = Date.parse(request.expires_at);
    else expires = now.getTime() + (request.ttl_seconds ?? DEFAULT_CAPABILITY_TTL_S) * 1000;
    const ttl = Math.floor(expires / 1000) - Math.floor(now.getTime() / 1000);
    if (!Number.isFinite(expires) || ttl <= 0)
      throw new NodeError('validation_failed', 'expires_at: must be in the future');
    if (ttl > MAX_CAPABILITY_TTL_S)
      throw new NodeError(
        'ttl_too_long',
        `a capability may live at most 90 days (${MAX_CAPABILITY_TTL_S} s); asked for ${ttl} s`,
      );
    return new Date(expires);
  }
}
