// API key records on one SQLite connection. Only the scrypt hash of a secret is ever stored, and it never
// appears in an error message.
import type Database from 'better-sqlite3';
import { StoreInputError } from './errors.ts';
import { API_KEY_COLUMNS, type ApiKeyRow, apiKeyFromRow, apiKeyToRow } from './sqlite-rows.ts';
import { type ApiKeyRecord, PERMISSIONS } from './store.ts';

type Stmt<P extends unknown[] = unknown[], R = unknown> = Database.Statement<P, R>;

function sqliteCode(error: unknown): string {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' ? code : '';
}

const KNOWN: ReadonlySet<string> = new Set(PERMISSIONS);

export class SqliteApiKeyOps {
  readonly #insert: Stmt<[ApiKeyRow]>;
  readonly #byId: Stmt<[string], ApiKeyRow>;
  readonly #all: Stmt<[], ApiKeyRow>;
  readonly #revoke: Stmt<[string, string]>;

  constructor(db: Database.Database) {
    const named = API_KEY_COLUMNS.split(', ')
      .map((c) => `@${c}`)
      .join(', ');
    this.#insert = db.prepare(`INSERT INTO api_keys (${API_KEY_COLUMNS}) VALUES (${named})`);
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
