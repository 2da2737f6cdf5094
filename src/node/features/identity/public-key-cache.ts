// Parsed Ed25519 public keys by their raw base64url form: the federation gate and key rotation verify with
// the same few keys over and over. Bounded, because the keys come from peers (manifests, rotation events):
// past `max` entries the least recently used is dropped, and is simply parsed again if it comes back.
import type { KeyObject } from 'node:crypto';
import { publicKeyFromRaw } from './node-key.ts';

export class PublicKeyCache {
  readonly #keys = new Map<string, KeyObject>();

  constructor(private readonly max = 1024) {}

  /** The KeyObject of a raw base64url Ed25519 public key; throws as publicKeyFromRaw does. */
  get(raw: string): KeyObject {
    let key = this.#keys.get(raw);
    if (key) {
      // Move to the end: Map iteration order is insertion order, so the first entry is the oldest use.
      this.#keys.delete(raw);
    } else {
      key = publicKeyFromRaw(raw);
      if (this.#keys.size >= this.max) this.#keys.delete(this.#keys.keys().next().value as string);
    }
    this.#keys.set(raw, key);
    return key;
  }
}
