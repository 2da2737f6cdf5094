// Named values (the meta table) on one SQLite connection.
import type Database from 'better-sqlite3';
import type { MetaStore } from '../ports/meta.ts';
import type { Run, Stmt } from './sql.ts';

export class SqliteMeta {
  readonly #getMeta: Stmt<[string], string>;
  readonly #setMeta: Stmt<[string, string]>;

  constructor(db: Database.Database) {
    this.#getMeta = db.prepare<[string], string>('SELECT value FROM meta WHERE key = ?').pluck();
    this.#setMeta = db.prepare(
      'INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
    );
  }

  getMeta(key: string): string | null {
    return this.#getMeta.get(key) ?? null;
  }

  setMeta(key: string, value: string): void {
    this.#setMeta.run(key, value);
  }
}

export function bindMetaStore(run: Run<SqliteMeta>): MetaStore {
  return {
    getMeta: (key) => run('read', (o) => o.getMeta(key)),
    setMeta: (key, value) => run('write', (o) => o.setMeta(key, value)),
  };
}
