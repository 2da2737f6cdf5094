// Who is calling a federation route: the connection's certificate AND a peer token signed by an approved
// peer's node key, bound together (`iss` == the certificate's URI SAN), fresh, for us, and never seen before.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { PeerRecord } from '../../../store/ports/peers.ts';
import type { Store } from '../../../store/store.ts';
import type { Clock } from '../../../tls/clock.ts';
import { type CidrSet, parseCidrs } from '../../../transport/proxy/cidr.ts';
import { accessOf } from '../../http/route-config.ts';
import { PublicKeyCache } from '../identity/public-key-cache.ts';
import type { PeerDirectory } from '../peers/peer-directory.ts';
import { type PeerKeyTrust, tokenKeyId } from '../rotation/peer-key-trust.ts';
import { claimedIssuer, PeerTokenError, verifyPeerToken } from './peer-token.ts';

export interface FederationAuthDeps {
  store: Store;
  peers: PeerDirectory;
  selfEntityUri: string;
  /** false only in the insecure dev mode, where there is no certificate to bind the token to. */
  requireMtls: boolean;
  clock: Clock;
  onRejected?: (reason: string, detail: string, claimed?: string) => void;
  /** Rotated peer keys: which node keys of a peer are accepted now, and a manifest refresh for a new one. */
  trust?: PeerKeyTrust;
  /** A peer's token verified: its `iat` (seconds) and when it arrived (ms), for the peer's clock skew. */
  onTokenVerified?(peerEntityUri: string, issuedAt: number, receivedMs: number): void;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The approved peer calling a federation route (set by installPeerAuth; null on open routes). */
    federationPeer: PeerRecord | null;
  }
}

/**
 * The federation listener's gate, one onRequest hook: every route that does not declare `access: 'open'`
 * (the well-known documents) needs a peer proven by certificate and token; handlers read
 * request.federationPeer.
 */
export function installPeerAuth(app: FastifyInstance, deps: FederationAuthDeps): void {
  const authenticator = new PeerAuthenticator(deps);
  app.decorateRequest('federationPeer', null);
  app.addHook('onRequest', async (request) => {
    if (request.is404 || accessOf(request) === 'open') return;
    request.federationPeer = await authenticator.authenticate(request);
  });
}

/** The peer a route's handler serves: set by installPeerAuth before the handler runs. */
export function peerOf(request: FastifyRequest): PeerRecord {
  if (!request.federationPeer) throw new Error('federation route without installPeerAuth');
  return request.federationPeer;
}

/** The gate's checks, with the little state they keep per node (parsed keys, unknown key ids tried). */
export class PeerAuthenticator {
  readonly #keys = new PublicKeyCache();
  /** The last unknown key id each peer presented (one entry per peer). */
  readonly #triedKids = new Map<string, string>();
  /** Parsed peer allowlists, by their text (as many as peers with one). */
  readonly #allowlists = new Map<string, CidrSet>();

  constructor(private readonly deps: FederationAuthDeps) {}

  async authenticate(request: FastifyRequest): Promise<PeerRecord> {
    try {
      return await this.#check(request);
    } catch (error) {
      if (error instanceof PeerTokenError) this.deps.onRejected?.(error.code, error.message);
      throw error;
    }
  }

  #allowlist(cidrs: readonly string[]): CidrSet {
    const key = cidrs.join(',');
    let set = this.#allowlists.get(key);
    if (!set) {
      if (this.#allowlists.size > 1024) this.#allowlists.clear();
      set = parseCidrs(cidrs);
      this.#allowlists.set(key, set);
    }
    return set;
  }

  async #check(request: FastifyRequest): Promise<PeerRecord> {
    const deps = this.deps;
    const header = request.headers.authorization ?? '';
    const token = /^Bearer ([A-Za-z0-9_\-.]+)$/.exec(header)?.[1];
    if (!token)
      throw new PeerTokenError(
        'token_missing',
        'federation requests need Authorization: Bearer <peer token>',
      );
    const issuer = claimedIssuer(token);
    if (deps.requireMtls) {
      const uris = request.peer?.uris ?? [];
      if (!uris.includes(issuer))
        throw new PeerTokenError(
          'token_binding_mismatch',
          `token issuer ${issuer} is not the identity of this connection's certificate (${uris.join(', ') || 'none'})`,
        );
    }
    let peer = deps.peers.byEntityUri(issuer);
    if (!peer || peer.status === 'pending')
      throw new PeerTokenError('peer_not_approved', `${issuer} is not an approved peer of this node`);
    if (peer.status === 'revoked') throw new PeerTokenError('peer_revoked', `${issuer} has been revoked`);
    // The client address: the socket's, or behind a trusted proxy the forwarded one (app/trusted-proxy.ts).
    if (peer.allowedCidrs?.length && !this.#allowlist(peer.allowedCidrs).has(request.clientIp))
      throw new PeerTokenError(
        'peer_address_not_allowed',
        `${issuer} may call from ${peer.allowedCidrs.join(', ')} only, not from ${request.clientIp}`,
      );
    const now = deps.clock();
    const kid = tokenKeyId(token);
    if (deps.trust && kid && !deps.trust.knowsNodeKey(peer, kid, now)) {
      // A key we do not know yet: the peer may have rotated. Its manifest must prove the new key with an
      // event signed by the key we approved; single-flight and rate-limited per peer inside refresh().
      // The token arrived on the peer's own certificate, so only the peer can make us fetch: a key id seen
      // for the first time fetches at once (a refresh moments earlier may predate the rotation), a repeat at
      // most once a second.
      const firstSight = this.#triedKids.get(peer.id) !== kid;
      this.#triedKids.set(peer.id, kid);
      await deps.trust.refresh(peer, now, { minIntervalMs: firstSight ? 0 : 1000 }).catch((error: Error) => {
        deps.onRejected?.('rotation_unproven', `${issuer}: ${error.message}`);
      });
      peer = deps.peers.byEntityUri(issuer) ?? peer;
    }
    const verified = await verifyPeerToken(token, {
      publicKeys: deps.trust ? deps.trust.acceptedNodeKeys(peer, now) : [this.#keys.get(peer.publicKey)],
      issuer,
      audience: deps.selfEntityUri,
      now,
    });
    if (!(await deps.store.rememberJti(verified.jti, verified.expiresAt)))
      throw new PeerTokenError('token_replayed', 'this peer token (jti) has been used before');
    deps.onTokenVerified?.(issuer, verified.issuedAt, now.getTime());
    return peer;
  }
}
