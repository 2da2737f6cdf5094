// The node's in-memory view of its peers' extra keys (rotated-out node keys, issuer keys), over the store,
// so the federation gate can ask synchronously which keys a peer's token may be signed with. Manifests
// fetched from a peer go through applyManifest, which proves a node key change before trusting it.
// `refresh` fetches a peer's manifest on demand (a token with an unknown `kid` arrived), single-flight and
// at most once per `minIntervalMs` per peer, so a stream of bad tokens cannot make us hammer the peer.
import type { KeyObject } from 'node:crypto';
import { decodeProtectedHeader } from 'jose';
import type { PeerKeyRecord, PeerKeyStore } from '../../../store/ports/peer-keys.ts';
import type { PeerRecord } from '../../../store/ports/peers.ts';
import type { SignedManifest } from '../identity/manifest.ts';
import { PublicKeyCache } from '../identity/public-key-cache.ts';
import type { PeerDirectory } from '../peers/peer-directory.ts';
import { acceptedPeerKeys, planPeerKeyUpdate } from './peer-keys.ts';

export interface PeerKeyTrustOptions {
  store: PeerKeyStore;
  peers: PeerDirectory;
  /** Fetches and fully verifies (TLS binding included) a peer's manifest: fetchPeerManifest. */
  fetchManifest?: (peer: PeerRecord) => Promise<SignedManifest>;
  minIntervalMs?: number;
}

export interface ManifestApplied {
  nodeKeyChanged: boolean;
  previousKeyId: string;
  keyId: string;
}

export class PeerKeyTrust {
  #records: PeerKeyRecord[];
  readonly #keys = new PublicKeyCache();
  readonly #inflight = new Map<string, Promise<ManifestApplied>>();
  readonly #lastRefresh = new Map<string, number>();

  private constructor(
    private readonly options: PeerKeyTrustOptions,
    records: PeerKeyRecord[],
  ) {
    this.#records = records;
  }

  static async load(options: PeerKeyTrustOptions): Promise<PeerKeyTrust> {
    return new PeerKeyTrust(options, await options.store.listPeerKeys());
  }

  /** Keys a token from this peer may be signed with now (its current node key first). */
  acceptedNodeKeys(peer: PeerRecord, now: Date): KeyObject[] {
    return acceptedPeerKeys(peer, this.#records, now, 'node').map((raw) => this.#keys.get(raw));
  }

  /** Keys capability tokens issued by this peer may be signed with now. */
  acceptedIssuerKeys(peer: PeerRecord, now: Date): KeyObject[] {
    return acceptedPeerKeys(peer, this.#records, now, 'issuer').map((raw) => this.#keys.get(raw));
  }

  /** The peer's node key `kid` if it is one acceptedNodeKeys would return now (current or in its window). */
  nodeKeyById(peer: PeerRecord, kid: string, now: Date): KeyObject | null {
    if (peer.keyId === kid) return this.#keys.get(peer.publicKey);
    const record = this.#records.find(
      (r) =>
        r.peerId === peer.id &&
        r.kind === 'node' &&
        r.keyId === kid &&
        (r.notAfter === null || now.getTime() < Date.parse(r.notAfter)),
    );
    return record ? this.#keys.get(record.publicKey) : null;
  }

  /** The key ids acceptedNodeKeys returns, to tell whether a token's `kid` is one we know. */
  knowsNodeKey(peer: PeerRecord, kid: string, now: Date): boolean {
    if (peer.keyId === kid) return true;
    return this.#records.some(
      (r) =>
        r.peerId === peer.id &&
        r.kind === 'node' &&
        r.keyId === kid &&
        (r.notAfter === null || now.getTime() < Date.parse(r.notAfter)),
    );
  }

  /** Applies a verified manifest of `peer`: throws RotationError rotation_unproven for an unproven key. */
  async applyManifest(peer: PeerRecord, manifest: SignedManifest, now: Date): Promise<ManifestApplied> {
    const known = this.#records.filter((r) => r.peerId === peer.id);
    const plan = planPeerKeyUpdate(peer, known, manifest, now);
    // History first: a crash before the peer record changes leaves an extra accepted key, never a gap.
    for (const record of plan.records) await this.options.store.putPeerKey(record);
    if (plan.node)
      await this.options.peers.update(peer.id, {
        publicKey: plan.node.publicKey,
        keyId: plan.node.keyId,
        fingerprint: plan.node.fingerprint,
        updatedAt: now.toISOString(),
      });
    this.#records = await this.options.store.listPeerKeys();
    return {
      nodeKeyChanged: plan.node !== null,
      previousKeyId: peer.keyId,
      keyId: plan.node?.keyId ?? peer.keyId,
    };
  }

  /**
   * Fetches the peer's manifest and applies it, unless one was fetched within minIntervalMs (then null;
   * a caller that saw an unknown key passes a short interval of its own).
   * Concurrent calls for one peer share one fetch.
   */
  async refresh(
    peer: PeerRecord,
    now: Date,
    options: { minIntervalMs?: number } = {},
  ): Promise<ManifestApplied | null> {
    const fetch = this.options.fetchManifest;
    if (!fetch) return null;
    const running = this.#inflight.get(peer.id);
    if (running) return running;
    const last = this.#lastRefresh.get(peer.id);
    const minInterval = options.minIntervalMs ?? this.options.minIntervalMs ?? 30_000;
    if (last !== undefined && now.getTime() - last < minInterval) return null;
    this.#lastRefresh.set(peer.id, now.getTime());
    const work = (async () => this.applyManifest(peer, await fetch(peer), now))();
    this.#inflight.set(peer.id, work);
    try {
      return await work;
    } finally {
      this.#inflight.delete(peer.id);
    }
  }

  /** Drops rotated-out keys whose window ended before `now`. */
  async prune(now: Date): Promise<number> {
    const removed = await this.options.store.prunePeerKeys(now.toISOString());
    if (removed > 0) this.#records = await this.options.store.listPeerKeys();
    return removed;
  }
}

/** The `kid` header of a JWT, read without verifying (only to pick or refresh keys); null if absent. */
export function tokenKeyId(token: string): string | null {
  try {
    const kid = decodeProtectedHeader(token).kid;
    return typeof kid === 'string' ? kid : null;
  } catch {
    return null;
  }
}
