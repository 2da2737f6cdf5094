// Who wrote a replicated fact is proven, never taken from the sender's word: the fact's origin signature
// must verify with a node key its origin published in its signed manifest: the current key, or one still
// inside its dual-trust window after a rotation. The origin must be an approved peer of this node (its keys
// are known from its manifest); an unknown key id triggers a rate-limited manifest refresh of the origin,
// and a key still unknown after a fresh manifest is refused.
import type { FactRecord } from '../../../store/ports/facts.ts';
import type { Clock } from '../../../tls/clock.ts';
import { NodeError } from '../../errors.ts';
import { originSignatureValid } from '../facts/origin-signature.ts';
import type { PeerDirectory } from '../peers/peer-directory.ts';
import type { PeerKeyTrust } from '../rotation/peer-key-trust.ts';

export interface OriginProof {
  /** Signed with the origin's current node key (not one in its dual-trust window). */
  currentKey: boolean;
}

export interface OriginVerifierOptions {
  peers: PeerDirectory;
  trust: PeerKeyTrust;
  clock: Clock;
  /** Least time between two manifest refreshes of one origin for an unknown key id; default 1 s. */
  refreshIntervalMs?: number;
}

export class OriginVerifier {
  constructor(private readonly options: OriginVerifierOptions) {}

  /** Resolves when the record's origin signature is proven; NodeError `origin_unverified` otherwise. */
  async verify(record: FactRecord): Promise<OriginProof> {
    const { peers, trust, clock } = this.options;
    const origin = record.origin_node_id;
    const signature = record.origin_sig;
    if (!signature) throw unverified(`${record.cid} from ${origin} carries no origin signature`);
    const peer = peers.byEntityUri(origin);
    if (peer?.status !== 'approved')
      throw unverified(`${record.cid} claims origin ${origin}, which is not an approved peer of this node`);
    let key = trust.nodeKeyById(peer, signature.kid, clock());
    if (!key) {
      // A key we have not seen: the origin may have rotated since we last read its manifest. Read it again
      // (at most once a second per origin). Until we could, the fact is neither stored nor skipped: the page
      // is retried after the backoff, so a rotation never loses a fact.
      let fetched: boolean;
      try {
        fetched =
          (await trust.refresh(peer, clock(), { minIntervalMs: this.options.refreshIntervalMs ?? 1000 })) !==
          null;
      } catch (error) {
        throw new OriginKeyPending(
          `${origin}'s manifest could not be read for key ${signature.kid}: ${(error as Error).message}`,
        );
      }
      key = trust.nodeKeyById(peers.get(peer.id) ?? peer, signature.kid, clock());
      if (!key && !fetched)
        throw new OriginKeyPending(
          `key ${signature.kid} of ${origin} is not known yet; its manifest was read moments ago`,
        );
    }
    if (!key)
      throw unverified(
        `${record.cid}: key ${signature.kid} is not a node key ${origin} publishes (current or in its dual-trust window)`,
      );
    if (!originSignatureValid(record, signature, key))
      throw unverified(
        `${record.cid}: the origin signature does not verify with ${origin}'s key ${signature.kid}`,
      );
    return { currentKey: signature.kid === (peers.get(peer.id) ?? peer).keyId };
  }
}

/** The origin's key could not be checked yet (manifest unreadable or just read): retry the page later. */
export class OriginKeyPending extends Error {
  override readonly name = 'OriginKeyPending';
}

function unverified(detail: string): NodeError {
  return new NodeError('origin_unverified', detail);
}
