// The peers this node knows, cached in memory over the store: the federation gate consults it on every
// handshake and request, and the client side looks up which identity each peer origin must prove.
// Every change this process makes goes through here. Replicas of the node sharing the database announce
// their changes (`onChange`) and apply each other's with refresh().
import type { PeerRecord, PeerStore } from '../../../store/ports/peers.ts';

export class PeerDirectory {
  readonly #byId = new Map<string, PeerRecord>();
  /** revoked()'s answer until the next change: the handshake gate asks on every connection. */
  #revoked: { uris: string[]; spkiSha256: string[] } | undefined;

  private constructor(
    private readonly store: PeerStore,
    peers: PeerRecord[],
    private readonly onChange: ((id: string) => void) | undefined,
  ) {
    for (const peer of peers) this.#put(peer);
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
    if (after) this.#put(after);
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
    if (!this.#revoked) {
      const revoked = this.list().filter((peer) => peer.status === 'revoked');
      // Frozen: one answer is shared by every caller until the next change.
      this.#revoked = Object.freeze({
        uris: Object.freeze(revoked.map((p) => p.entityUri)) as string[],
        spkiSha256: Object.freeze(revoked.map((p) => p.tlsSpkiSha256)) as string[],
      });
    }
    return this.#revoked;
  }

  #put(peer: PeerRecord): void {
    this.#byId.set(peer.id, peer);
    this.#revoked = undefined;
  }

  async add(peer: PeerRecord): Promise<void> {
    await this.store.addPeer(peer);
    this.#put(peer);
    this.onChange?.(peer.id);
  }

  async update(
    id: string,
    changes: Partial<Omit<PeerRecord, 'id' | 'createdAt'>>,
  ): Promise<PeerRecord | null> {
    const updated = await this.store.updatePeer(id, changes);
    if (updated) {
      this.#put(updated);
      this.onChange?.(id);
    }
    return updated;
  }
}
