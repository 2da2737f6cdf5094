// The peer-token replay cache (seen jtis) on PostgreSQL. ON CONFLICT DO NOTHING makes a racing second
// insert of the same jti wait for the first and then report a replay: exactly one caller sees it first.
import type { ReplayStore } from '../ports/replay.ts';
import { prepared, type Run, type Sql } from './sql.ts';

const REMEMBER = prepared(
  'tessera_jti_remember',
  'INSERT INTO seen_jtis (jti, expires_at) VALUES ($1, $2) ON CONFLICT (jti) DO NOTHING',
);

/** The replay cache on one Sql (the pool or a transaction's client). */
export class PgReplay {
  constructor(private readonly db: Sql) {}

  async rememberJti(jti: string, expiresAt: number): Promise<boolean> {
    const result = await this.db.query(REMEMBER, [jti, expiresAt]);
    return result.rowCount === 1;
  }

  async pruneJtis(now: number): Promise<void> {
    await this.db.query('DELETE FROM seen_jtis WHERE expires_at < $1', [now]);
  }
}

/** The ReplayStore port over `run`, with the access each call needs (sql.ts Access). */
export function bindReplayStore(run: Run<PgReplay>): ReplayStore {
  return {
    rememberJti: (jti, expiresAt) => run('write', (o) => o.rememberJti(jti, expiresAt)),
    pruneJtis: (now) => run('write', (o) => o.pruneJtis(now)),
  };
}
