// The peer-token replay cache (seen jtis) on one SQLite connection.
import type Database from 'better-sqlite3';
import type { ReplayStore } from '../ports/replay.ts';
import type { Run, Stmt } from './sql.ts';

export class SqliteReplay {
  readonly #insertJti: Stmt<[string, number]>;
  readonly #pruneJtis: Stmt<[number]>;

  constructor(db: Database.Database) {
    this.#insertJti = db.prepare(
      'INSERT INTO seen_jtis (jti, expires_at) VALUES (?, ?) ON CONFLICT (jti) DO NOTHING',
    );
    this.#pruneJtis = db.prepare('DELETE FROM seen_jtis WHERE expires_at < ?');
  }

  rememberJti(jti: string, expiresAt: number): boolean {
    return this.#insertJti.run(jti, expiresAt).changes === 1;
  }

  pruneJtis(now: number): void {
    this.#pruneJtis.run(now);
  }
}

export function bindReplayStore(run: Run<SqliteReplay>): ReplayStore {
  return {
    rememberJti: (jti, expiresAt) => run('write', (o) => o.rememberJti(jti, expiresAt)),
    pruneJtis: (now) => run('write', (o) => o.pruneJtis(now)),
  };
}
