// Managed API keys. The secret is never stored: only a scrypt hash, found through the public `id`.
export const PERMISSIONS = ['read', 'write', 'federate', 'admin', 'audit.read'] as const;
export type Permission = (typeof PERMISSIONS)[number];

export interface ApiKeyRecord {
  /** Public key id, also the prefix of the token (`tsk_<id>_<secret>`), so one lookup finds the one hash. */
  id: string;
  /** The principal the key acts as (audit, quotas). */
  entityUri: string;
  permissions: Permission[];
  /** Self-describing scrypt hash: `scrypt$<N>$<r>$<p>$<salt b64url>$<hash b64url>`. */
  secretHash: string;
  description: string | null;
  createdAt: string;
  expiresAt: string | null;
  revokedAt: string | null;
  /**
   * RFC 8705 certificate binding (`cnf` `x5t#S256`): base64url SHA-256 of the DER client certificate the
   * key may only be used with. Absent: the key is a plain bearer key.
   */
  certSha256?: string;
}

export interface ApiKeyStore {
  /** StoreInputError `api_key_exists` for a taken id, `invalid_record` for an unknown permission. */
  addApiKey(key: ApiKeyRecord): Promise<void>;
  getApiKey(id: string): Promise<ApiKeyRecord | null>;
  /** Oldest first. */
  listApiKeys(): Promise<ApiKeyRecord[]>;
  /** Sets revokedAt; false when no such key (or it was already revoked). */
  revokeApiKey(id: string, revokedAt: string): Promise<boolean>;
}
