// Managed API keys: create (the token is returned once), list, revoke, verify. Verification cost is
// fixed by the token's shape, not by what the store holds: a malformed token costs no hash, any
// well-formed one exactly one scrypt (against the dummy hash when the id is unknown), then one indexed read.
//
// Verified tokens are cached (LRU keyed by SHA-256 of the full token, 60 s by default) so hot paths do not
// pay scrypt per request. A revocation through this object drops the key's entries at once and is
// announced (`onRevoked`): replicas sharing the database drop theirs when they hear it (forget). One made
// by a process that does not announce it takes effect here within the cache TTL.
import { hash } from 'node:crypto';
import type { ApiKeyRecord, ApiKeyStore, Permission } from '../../../store/ports/api-keys.ts';
import { type Clock, systemClock } from '../../../tls/clock.ts';
import { newToken, parseToken } from './api-key-token.ts';
import { PERMISSIONS, type Principal } from './permissions.ts';
import { type Derive, DUMMY_HASH, hashSecret, scryptDerive, verifySecret } from './secret-hash.ts';

/** An API key as it may be shown: everything but the hash. */
export type PublicApiKey = Omit<ApiKeyRecord, 'secretHash'>;

export type AuthFailure =
  | 'missing'
  | 'malformed'
  | 'unknown_key'
  | 'bad_secret'
  | 'expired'
  | 'revoked'
  | 'cert_binding_mismatch';

export type Verification =
  | { ok: true; principal: Principal }
  | { ok: false; reason: AuthFailure; keyId?: string };

export interface NewApiKey {
  entityUri: string;
  permissions: readonly Permission[];
  expiresAt?: string | null;
  description?: string | null;
  /** Bind the key to a client certificate: base64url SHA-256 of its DER (`x5t#S256`). */
  certSha256?: string | undefined;
}

export interface ApiKeysOptions {
  store: ApiKeyStore;
  clock?: Clock;
  /** The scrypt call; injectable so tests can count hashes. */
  derive?: Derive;
  cacheTtlMs?: number;
  /** Called after a revocation is stored (the node tells its other replicas). */
  onRevoked?: (keyId: string) => void;
  cacheSize?: number;
}

interface Cached {
  principal: Principal;
  /** Cache entry expiry, never later than the key's own expiry. */
  untilMs: number;
}

export function publicKey(record: ApiKeyRecord): PublicApiKey {
  const { secretHash: _hash, ...rest } = record;
  return rest;
}

export function keyStatus(key: PublicApiKey, nowMs: number): 'active' | 'expired' | 'revoked' {
  if (key.revokedAt) return 'revoked';
  if (key.expiresAt && Date.parse(key.expiresAt) <= nowMs) return 'expired';
  return 'active';
}

export class ApiKeys {
  readonly #store: ApiKeyStore;
  readonly #clock: Clock;
  readonly #derive: Derive;
  readonly #ttlMs: number;
  readonly #size: number;
  /** Map order is recency order: a hit moves the entry to the end, eviction takes the first. */
  readonly #cache = new Map<string, Cached>();
  readonly #onRevoked: ((keyId: string) => void) | undefined;

  constructor(options: ApiKeysOptions) {
    this.#store = options.store;
    this.#clock = options.clock ?? systemClock;
    this.#derive = options.derive ?? scryptDerive;
    this.#ttlMs = options.cacheTtlMs ?? 60_000;
    this.#onRevoked = options.onRevoked;
    this.#size = options.cacheSize ?? 1000;
  }

  /** Stores a new key; `token` is the only copy of the secret anywhere. */
  async create(input: NewApiKey): Promise<{ key: PublicApiKey; token: string }> {
    const { id, secret, token } = newToken();
    const wanted = new Set(input.permissions);
    const record: ApiKeyRecord = {
      id,
      entityUri: input.entityUri,
      permissions: PERMISSIONS.filter((p) => wanted.has(p)),
      secretHash: await hashSecret(secret, this.#derive),
      description: input.description ?? null,
      createdAt: this.#clock().toISOString(),
      expiresAt: input.expiresAt ? new Date(input.expiresAt).toISOString() : null,
      revokedAt: null,
      ...(input.certSha256 ? { certSha256: input.certSha256 } : {}),
    };
    await this.#store.addApiKey(record);
    return { key: publicKey(record), token };
  }

  async list(): Promise<PublicApiKey[]> {
    return (await this.#store.listApiKeys()).map(publicKey);
  }

  async get(id: string): Promise<PublicApiKey | null> {
    const record = await this.#store.getApiKey(id);
    return record ? publicKey(record) : null;
  }

  /** null when there is no such key; `revoked: false` when it was already revoked (nothing changed). */
  async revoke(id: string): Promise<{ key: PublicApiKey; revoked: boolean } | null> {
    const revoked = await this.#store.revokeApiKey(id, this.#clock().toISOString());
    this.forget(id);
    this.#onRevoked?.(id);
    const record = await this.#store.getApiKey(id);
    return record ? { key: publicKey(record), revoked } : null;
  }

  /** An unexpired, unrevoked key with the admin permission exists (what `keys bootstrap` refuses over). */
  async hasActiveAdmin(): Promise<boolean> {
    const now = this.#clock().getTime();
    return (await this.#store.listApiKeys()).some(
      (key) => key.permissions.includes('admin') && keyStatus(key, now) === 'active',
    );
  }

  async verify(token: string): Promise<Verification> {
    const parsed = parseToken(token);
    if (!parsed) return { ok: false, reason: 'malformed' };
    const now = this.#clock().getTime();
    const cacheKey = hash('sha256', token, 'base64url');
    const hit = this.#cache.get(cacheKey);
    if (hit) {
      this.#cache.delete(cacheKey);
      if (hit.untilMs > now) {
        this.#cache.set(cacheKey, hit);
        return { ok: true, principal: hit.principal };
      }
    }
    const record = await this.#store.getApiKey(parsed.id);
    // The secret is checked first, so expired / revoked is only told to whoever holds the secret.
    const matches = await verifySecret(parsed.secret, record?.secretHash ?? DUMMY_HASH, this.#derive);
    if (!record) return { ok: false, reason: 'unknown_key', keyId: parsed.id };
    if (!matches) return { ok: false, reason: 'bad_secret', keyId: record.id };
    const status = keyStatus(record, now);
    if (status !== 'active') return { ok: false, reason: status, keyId: record.id };
    const principal: Principal = Object.freeze({
      keyId: record.id,
      entityUri: record.entityUri,
      permissions: Object.freeze([...record.permissions]),
      ...(record.certSha256 ? { certSha256: record.certSha256 } : {}),
    });
    const keyExpiry = record.expiresAt ? Date.parse(record.expiresAt) : Number.POSITIVE_INFINITY;
    this.#remember(cacheKey, { principal, untilMs: Math.min(now + this.#ttlMs, keyExpiry) });
    return { ok: true, principal };
  }

  /** Drops every cached verification (revocations elsewhere may have been missed). */
  forgetAll(): void {
    this.#cache.clear();
  }

  /** Drops cached verifications of a key (called on revoke). */
  forget(keyId: string): void {
    for (const [cacheKey, entry] of this.#cache)
      if (entry.principal.keyId === keyId) this.#cache.delete(cacheKey);
  }

  #remember(cacheKey: string, entry: Cached): void {
    if (this.#ttlMs <= 0 || this.#size <= 0) return;
    this.#cache.set(cacheKey, entry);
    while (this.#cache.size > this.#size) {
      const oldest = this.#cache.keys().next().value;
      if (oldest === undefined) break;
      this.#cache.delete(oldest);
    }
  }
}
