// Whose keys a capability's signature must verify with: this node's issuer key ring for our own
// capabilities, and for an approved peer the issuer keys its signed manifest publishes (current, plus
// rotated-out keys inside their window). A peer whose issuer keys we have not seen yet gets its manifest
// fetched once (PeerKeyTrust.refresh). Any other issuer is unknown: null.
import type { KeyObject } from 'node:crypto';
import type { PeerDirectory } from '../peers/peer-directory.ts';
import type { PeerKeyTrust } from '../rotation/peer-key-trust.ts';

export type IssuerKeyResolver = (issuer: string, now: Date) => Promise<KeyObject[] | null>;

export function issuerKeyResolver(deps: {
  selfEntityUri: string;
  issuerRing: { verificationKeys(now: Date): KeyObject[] };
  peers?: PeerDirectory;
  trust?: PeerKeyTrust;
}): IssuerKeyResolver {
  return async (issuer, now) => {
    if (issuer === deps.selfEntityUri) return deps.issuerRing.verificationKeys(now);
    const peer = deps.peers?.byEntityUri(issuer);
    if (peer?.status !== 'approved' || deps.trust === undefined) return null;
    let keys = deps.trust.acceptedIssuerKeys(peer, now);
    if (keys.length === 0) {
      await deps.trust.refresh(peer, now).catch(() => null);
      keys = deps.trust.acceptedIssuerKeys(peer, now);
    }
    return keys.length > 0 ? keys : null;
  };
}
