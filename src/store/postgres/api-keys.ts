// API key records on PostgreSQL. Only the scrypt hash of a secret is ever stored, and it never appears in
// an error message (a PostgreSQL error's message names the column; the row's values are in its detail).
import { StoreInputError } from '../errors.ts';
import { type ApiKeyRecord, type ApiKeyStore, PERMISSIONS } from '../ports/api-keys.ts';
import { API_KEY_COLUMNS, type ApiKeyRow, apiKeyFromRow, apiKeyToRow } from '../sqlite/api-keys.ts';
import {
  isConstraintViolation,
  pgCode,
  placeholders,
  type Run,
  type Sql,
  UNIQUE_VIOLATION,
  unmatchable,
} from './sql.ts';

const KNOWN: ReadonlySet<string> = new Set(PERMISSIONS);
const FIELDS = API_KEY_COLUMNS.split(', ') as (keyof ApiKeyRow)[];

/** API key records on one Sql (the pool or a transaction's client). */
export class PgApiKeys {
  constructor(private readonly db: Sql) {}

  async add(key: ApiKeyRecord): Promise<void> {
    // An unknown permission would be read back as a Permission it is not: refuse it here.
    const unknown = key.permissions.filter((p) => !KNOWN.has(p));
    if (unknown.length > 0)
      throw new StoreInputError(
        'invalid_record',
        `api key ${key.id}: unknown permissions ${unknown.join(', ')}`,
      );
    const row = apiKeyToRow(key);
    try {
      await this.db.guarded(() =>
        this.db.query(
          `INSERT INTO api_keys (${API_KEY_COLUMNS}) VALUES (${placeholders(FIELDS.length)})`,
          FIELDS.map((field) => row[field]),
        ),
      );
    } catch (error) {
      if (pgCode(error) === UNIQUE_VIOLATION)
        throw new StoreInputError('api_key_exists', `an api key with id ${key.id} exists`);
      if (isConstraintViolation(error))
        throw new StoreInputError('invalid_record', `api key ${key.id}: ${(error as Error).message}`);
      throw error;
    }
  }

  async get(id: string): Promise<ApiKeyRecord | null> {
    if (unmatchable(id)) return null;
    const { rows } = await this.db.query<ApiKeyRow>(`SELECT ${API_KEY_COLUMNS} FROM api_keys WHERE id = $1`, [
      id,
    ]);
    return rows[0] ? apiKeyFromRow(rows[0]) : null;
  }

  async list(): Promise<ApiKeyRecord[]> {
    const { rows } = await this.db.query<ApiKeyRow>(
      `SELECT ${API_KEY_COLUMNS} FROM api_keys ORDER BY created_at, id`,
    );
    return rows.map(apiKeyFromRow);
  }

  async revoke(id: string, revokedAt: string): Promise<boolean> {
    const result = await this.db.query(
      'UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL',
      [revokedAt, id],
    );
    return result.rowCount === 1;
  }
}

/** The ApiKeyStore port over `run`, with the access each call needs (sql.ts Access). */
export function bindApiKeyStore(run: Run<PgApiKeys>): ApiKeyStore {
  return {
    addApiKey: (key) => run('write', (o) => o.add(key)),
    getApiKey: (id) => run('read', (o) => o.get(id)),
    listApiKeys: () => run('read', (o) => o.list()),
    revokeApiKey: (id, revokedAt) => run('write', (o) => o.revoke(id, revokedAt)),
  };
}
