// The peers this node knows, cached in memory over the store: the federation gate consults it on every
// handshake and request, and the client side looks up which identity each peer origin must prove.
// Every change this process makes goes through here. Replicas of the node sharing the database announce
// their changes (`onChange`) and apply each other's with refresh().
import type { PeerRecord, PeerStore } from '../../../store/ports/peers.ts';

export class PeerDirectory {
  readonly #byId = new Map<string, PeerRecord>();

  private constructor(
    private readonly store: PeerStore,
    peers: PeerRecord[],
    private readonly onChange: ((id: string) => void) | undefined,
  ) {
    for (const peer of peers) this.#byId.set(peer.id, peer);
  }

  /** `onChange`: called after each change stored through this directory (an add, an update). */
  static async load(store: PeerStore, onChange?: (id: string) => void): Promise<PeerDirectory> {
    return new PeerDirectory(store, await store.listPeers(), onChange);
  }

  /**
   * Reads peer `id` again from the store (another replica changed it); returns what was cached before and
   * what is now (null when the store does not have it).
   */
  async refresh(id: string): Promise<{ before: PeerRecord | undefined; after: PeerRecord | null }> {
    const before = this.#byId.get(id);
    const after = await this.store.getPeer(id);
    if (after) this.#byId.set(id, after);
    return { before, after };
  }

  list(): PeerRecord[] {
    return [...this.#byId.values()];
  }

  get(id: string): PeerRecord | undefined {
    return this.#byId.get(id);
  }

  byEntityUri(entityUri: string): PeerRecord | undefined {
    return this.list().find((peer) => peer.entityUri === entityUri);
  }

  /** The entity URI the server at this origin must prove (client side), for any non-revoked peer. */
  expectedIdentityFor(origin: string): string | undefined {
    return this.list().find(
      (peer) => peer.status !== 'revoked' && new URL(peer.federationUrl).origin === origin,
    )?.entityUri;
  }

  approved(): PeerRecord[] {
    return this.list().filter((peer) => peer.status === 'approved');
  }

  /** Revoked identities and keys, for the handshake-level deny-list. */
  revoked(): { uris: string[]; spkiSha256: string[] } {
    const revoked = this.list().filter((peer) => peer.status === 'revoked');
    return { uris: revoked.map((p) => p.entityUri), spkiSha256: revoked.map((p) => p.tlsSpkiSha256) };
  }

  async add(peer: PeerRecord): Promise<void> {
    await this.store.addPeer(peer);
    this.#byId.set(peer.id, peer);
    this.onChange?.(peer.id);
  }

  async update(
    id: string,
    changes: Partial<Omit<PeerRecord, 'id' | 'createdAt'>>,
  ): Promise<PeerRecord | null> {
    const updated = await this.store.updatePeer(id, changes);
    if (updated) {
      this.#byId.set(id, updated);
      this.onChange?.(id);
    }
    return updated;
  }
}
