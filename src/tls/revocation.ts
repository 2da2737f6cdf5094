// The trust check every adapter runs on a peer besides its authorizer, at the handshake and again whenever
// trust changes (a CRL or CA bundle reload, a deny-list change, a notAfter or CRL nextUpdate reached):
// is the peer's certificate revoked by a loaded CRL of its issuer, is that CRL stale, and (when the chain
// the peer presented is given, i.e. on re-evaluation) does it still chain to the current CA bundle.
// OpenSSL checked the chain at the handshake; CRLs are ours so the refusal carries a precise reason.
import { X509Certificate } from 'node:crypto';
import type { CrlStalePolicy, LoadedCrl } from './crl.ts';
import { normaliseSerial } from './crl.ts';
import type { PeerIdentity } from './identity.ts';

/** What checkPeerTrust needs of the material: the CRLs, the stale policy, and the CA bundle for re-checks. */
export interface TrustMaterial {
  readonly crls: readonly LoadedCrl[];
  readonly crlStale: CrlStalePolicy;
  readonly cas: readonly { der: Buffer }[];
}

/** Why a peer is not (or no longer) trusted. */
export interface TrustRefusal {
  reason: 'cert_revoked' | 'crl_stale' | 'cert_untrusted';
  detail: string;
  /** The revoked serial (cert_revoked). */
  serial?: string;
}

export interface PeerTrustOptions {
  /** The certificates the peer presented (leaf first, DER): given, the chain to the current bundle is re-checked. */
  presented?: readonly Uint8Array[];
  /** Called when a stale CRL was accepted because the policy is `warn`. */
  onStaleAccepted?: (crl: LoadedCrl) => void;
}

const MAX_CHAIN_DEPTH = 8;

/** null when the peer is trusted; otherwise the reason. */
export function checkPeerTrust(
  identity: PeerIdentity,
  material: TrustMaterial,
  now: Date,
  options: PeerTrustOptions = {},
): TrustRefusal | null {
  if (options.presented && !presentedChainTrusted(options.presented, material.cas))
    return {
      reason: 'cert_untrusted',
      detail: `peer certificate (issuer ${identity.issuer}) no longer chains to a CA of the bundle`,
    };
  const crls = crlsFor(identity, material.crls);
  // Normalised only when a CRL of its issuer is loaded: most nodes run without CRLs.
  const serial = crls.length > 0 ? normaliseSerial(identity.serial) : '';
  for (const crl of crls) {
    if (crl.revoked.has(serial))
      return {
        reason: 'cert_revoked',
        serial: identity.serial,
        detail: `peer certificate serial ${identity.serial} is revoked by the CRL of ${crl.issuer} (${crl.file})`,
      };
    if (crl.nextUpdate && crl.nextUpdate.getTime() <= now.getTime()) {
      if (material.crlStale === 'warn') {
        options.onStaleAccepted?.(crl);
        continue;
      }
      return {
        reason: 'crl_stale',
        detail: `the CRL of ${crl.issuer} (${crl.file}) was due for renewal at ${crl.nextUpdate.toISOString()}`,
      };
    }
  }
  return null;
}

/** The CRLs that speak for this peer's issuer. */
export function crlsFor(identity: PeerIdentity, crls: readonly LoadedCrl[]): LoadedCrl[] {
  return crls.filter((crl) => crl.issuer === identity.issuer);
}

/**
 * When the trust in this peer next changes by itself: its notAfter, or (stale policy `fail`) the soonest
 * nextUpdate of its issuer's CRLs. Connections set a timer for it.
 */
export function nextTrustDeadline(identity: PeerIdentity, material: TrustMaterial): Date {
  let deadline = identity.notAfter.getTime();
  if (material.crlStale === 'fail') {
    for (const crl of crlsFor(identity, material.crls)) {
      if (crl.nextUpdate) deadline = Math.min(deadline, crl.nextUpdate.getTime());
    }
  }
  return new Date(deadline);
}

/** The bundle's CAs decoded once per bundle: a reload re-checks every open connection against the same one. */
const decodedAnchors = new WeakMap<readonly { der: Buffer }[], X509Certificate[]>();

function anchorsOf(cas: readonly { der: Buffer }[]): X509Certificate[] {
  let anchors = decodedAnchors.get(cas);
  if (!anchors) {
    anchors = cas.map((c) => new X509Certificate(c.der));
    decodedAnchors.set(cas, anchors);
  }
  return anchors;
}

/** Walks leaf → issuer by signature through what the peer presented until a CA of the bundle is reached. */
function presentedChainTrusted(presented: readonly Uint8Array[], cas: readonly { der: Buffer }[]): boolean {
  const [leafDer, ...rest] = presented;
  if (!leafDer) return false;
  const anchors = anchorsOf(cas);
  const candidates = [...rest.map((der) => new X509Certificate(der)), ...anchors];
  let current = new X509Certificate(leafDer);
  for (let depth = 0; depth < MAX_CHAIN_DEPTH; depth++) {
    const issuer = candidates.find((c) => c.ca && current.checkIssued(c) && current.verify(c.publicKey));
    if (!issuer) return false;
    if (anchors.some((a) => a.raw.equals(issuer.raw))) return true;
    current = issuer;
  }
  return false;
}
