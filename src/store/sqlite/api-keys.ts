// API key records on one SQLite connection. Only the scrypt hash of a secret is ever stored, and it never
// appears in an error message.
import type Database from 'better-sqlite3';
import { StoreInputError } from '../errors.ts';
import { type ApiKeyRecord, type ApiKeyStore, PERMISSIONS, type Permission } from '../ports/api-keys.ts';
import { namedParams, type Run, type Stmt, sqliteCode } from './sql.ts';

export const API_KEY_COLUMNS =
  'id, entity_uri, permissions, secret_hash, description, created_at, expires_at, revoked_at, cert_sha256';

export interface ApiKeyRow {
  id: string;
  entity_uri: string;
  permissions: string;
  secret_hash: string;
  description: string | null;
  created_at: string;
  expires_at: string | null;
  revoked_at: string | null;
  cert_sha256: string | null;
}

export function apiKeyToRow(key: ApiKeyRecord): ApiKeyRow {
  return {
    id: key.id,
    entity_uri: key.entityUri,
    permissions: JSON.stringify(key.permissions),
    secret_hash: key.secretHash,
    description: key.description ?? null,
    created_at: key.createdAt,
    expires_at: key.expiresAt ?? null,
    revoked_at: key.revokedAt ?? null,
    cert_sha256: key.certSha256 ?? null,
  };
}

export function apiKeyFromRow(row: ApiKeyRow): ApiKeyRecord {
  return {
    id: row.id,
    entityUri: row.entity_uri,
    permissions: JSON.parse(row.permissions) as Permission[],
    secretHash: row.secret_hash,
    description: row.description,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    revokedAt: row.revoked_at,
    ...(row.cert_sha256 ? { certSha256: row.cert_sha256 } : {}),
  };
}

const KNOWN: ReadonlySet<string> = new Set(PERMISSIONS);

export class SqliteApiKeys {
  readonly #insert: Stmt<[ApiKeyRow]>;
  readonly #byId: Stmt<[string], ApiKeyRow>;
  readonly #all: Stmt<[], ApiKeyRow>;
  readonly #revoke: Stmt<[string, string]>;

  constructor(db: Database.Database) {
    this.#insert = db.prepare(
      `INSERT INTO api_keys (${API_KEY_COLUMNS}) VALUES (${namedParams(API_KEY_COLUMNS)})`,
    );
    this.#byId = db.prepare(`SELECT ${API_KEY_COLUMNS} FROM api_keys WHERE id = ?`);
    this.#all = db.prepare(`SELECT ${API_KEY_COLUMNS} FROM api_keys ORDER BY created_at, id`);
    this.#revoke = db.prepare('UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL');
  }

  add(key: ApiKeyRecord): void {
    // An unknown permission would be read back as a Permission it is not: refuse it here.
    const unknown = key.permissions.filter((p) => !KNOWN.has(p));
    if (unknown.length > 0)
      throw new StoreInputError(
        'invalid_record',
        `api key ${key.id}: unknown permissions ${unknown.join(', ')}`,
      );
    try {
      this.#insert.run(apiKeyToRow(key));
    } catch (error) {
      const code = sqliteCode(error);
      if (code === 'SQLITE_CONSTRAINT_PRIMARYKEY')
        throw new StoreInputError('api_key_exists', `an api key with id ${key.id} exists`);
      // Only the column name, never the row's values (one of them is the secret hash).
      if (code.startsWith('SQLITE_CONSTRAINT'))
        throw new StoreInputError('invalid_record', `api key ${key.id}: ${(error as Error).message}`);
      throw error;
    }
  }

  get(id: string): ApiKeyRecord | null {
    const row = this.#byId.get(id);
    return row ? apiKeyFromRow(row) : null;
  }

  list(): ApiKeyRecord[] {
    return this.#all.all().map(apiKeyFromRow);
  }

  revoke(id: string, revokedAt: string): boolean {
    return this.#revoke.run(revokedAt, id).changes === 1;
  }
}

export function bindApiKeyStore(run: Run<SqliteApiKeys>): ApiKeyStore {
  return {
    addApiKey: (key) => run('write', (o) => o.add(key)),
    getApiKey: (id) => run('read', (o) => o.get(id)),
    listApiKeys: () => run('read', (o) => o.list()),
    revokeApiKey: (id, revokedAt) => run('write', (o) => o.revoke(id, revokedAt)),
  };
}
