// Per-peer address allowlists (`allowed_cidrs`, set at approval): an approved peer's federation request
// must come from one of its networks. The address is the client's (request.clientIp: the socket's, or
// behind a trusted proxy the forwarded one, app/trusted-proxy.ts). Checked after the peer is proven by
// certificate and token, so only the peer itself learns its allowlist from the refusal.
import type { PeerRecord } from '../../../store/ports/peers.ts';
import { type CidrSet, parseCidrs } from '../../../transport/proxy/cidr.ts';
import { PeerTokenError } from './peer-token.ts';

export class PeerAddressCheck {
  /** Parsed allowlists by their text (as many as peers with one). */
  readonly #parsed = new Map<string, CidrSet>();

  constructor(private readonly onRejected?: (reason: string, detail: string) => void) {}

  /** Throws PeerTokenError `peer_address_not_allowed` (counted) when `clientIp` is outside the peer's list. */
  check(peer: PeerRecord, clientIp: string): void {
    const cidrs = peer.allowedCidrs;
    if (!cidrs?.length || this.#allowlist(cidrs).has(clientIp)) return;
    const error = new PeerTokenError(
      'peer_address_not_allowed',
      `${peer.entityUri} may call from ${cidrs.join(', ')} only, not from ${clientIp}`,
    );
    this.onRejected?.(error.code, error.message);
    throw error;
  }

  #allowlist(cidrs: readonly string[]): CidrSet {
    const key = cidrs.join(',');
    let set = this.#parsed.get(key);
    if (!set) {
      if (this.#parsed.size > 1024) this.#parsed.clear();
      set = parseCidrs(cidrs);
      this.#parsed.set(key, set);
    }
    return set;
  }
}
