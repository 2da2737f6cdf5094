// Named values (the meta table) on PostgreSQL.
import type { MetaStore } from '../ports/meta.ts';
import { prepared, type Run, type Sql, unmatchable } from './sql.ts';

const GET = prepared('tessera_meta_get', 'SELECT value FROM meta WHERE key = $1');
const SET = prepared(
  'tessera_meta_set',
  'INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
);

/** Named values on one Sql (the pool or a transaction's client). */
export class PgMeta {
  constructor(private readonly db: Sql) {}

  async getMeta(key: string): Promise<string | null> {
    if (unmatchable(key)) return null;
    const { rows } = await this.db.query<{ value: string }>(GET, [key]);
    return rows[0]?.value ?? null;
  }

  async setMeta(key: string, value: string): Promise<void> {
    await this.db.query(SET, [key, value]);
  }
}

/** The MetaStore port over `run`, with the access each call needs (sql.ts Access). */
export function bindMetaStore(run: Run<PgMeta>): MetaStore {
  return {
    getMeta: (key) => run('read', (o) => o.getMeta(key)),
    setMeta: (key, value) => run('write', (o) => o.setMeta(key, value)),
  };
}
