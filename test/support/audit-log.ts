// Audit log test helpers: a real SQLite database in a temp dir filled through AuditLog with a stepping
// clock, and direct SQL on that file (better-sqlite3, bypassing the store) to play the attacker.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { AUDIT_EVENT_TYPES, AuditLog } from '../../src/node/features/audit/audit-log.ts';
import type { AuditEntry } from '../../src/store/ports/audit.ts';
import { openSqliteStore } from '../../src/store/sqlite/open.ts';
import type { Store } from '../../src/store/store.ts';
import type { Logger } from '../../src/tls/logger.ts';

export const AUDIT_T0 = Date.parse('2026-03-01T00:00:00.000Z');
export const MINUTE = 60_000;

/** A clock that advances one minute per reading, starting at AUDIT_T0 + 1 min. */
export function steppingClock(start = AUDIT_T0, stepMs = MINUTE): () => Date {
  let now = start;
  return () => {
    now += stepMs;
    return new Date(now);
  };
}

/** A logger that keeps what it is given, for asserting on errors. */
export function recordingLogger(): Logger & { lines: { level: string; obj: object; msg?: string }[] } {
  const lines: { level: string; obj: object; msg?: string }[] = [];
  const at =
    (level: string) =>
    (obj: object, msg?: string): void => {
      lines.push({ level, obj, ...(msg !== undefined ? { msg } : {}) });
    };
  return { lines, info: at('info'), warn: at('warn'), error: at('error'), debug: at('debug') };
}

export interface AuditDb {
  /** The data dir (holds tessera.db), as `tessera audit --data-dir` takes it. */
  dir: string;
  file: string;
  store: Store;
  log: AuditLog;
  /** Runs SQL on the database file directly, as someone with file access would. */
  sql(statement: string, ...params: unknown[]): void;
  cleanup(): Promise<void>;
}

export async function auditDb(prefix = 'tessera-audit-'): Promise<AuditDb> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  const file = join(dir, 'tessera.db');
  const store = await openSqliteStore(file);
  const log = new AuditLog({ store, clock: steppingClock(), logger: recordingLogger() });
  return {
    dir,
    file,
    store,
    log,
    sql(statement, ...params) {
      const db = new Database(file);
      try {
        db.prepare(statement).run(...params);
      } finally {
        db.close();
      }
    },
    async cleanup() {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Records n entries: event types cycle through the list, principals through three names, details
 * carry the index. Entry i (1-based) has ts AUDIT_T0 + i minutes.
 */
export async function seedAudit(log: AuditLog, n: number): Promise<AuditEntry[]> {
  const entries: AuditEntry[] = [];
  for (let i = 1; i <= n; i++)
    entries.push(
      await log.record(
        AUDIT_EVENT_TYPES[(i - 1) % AUDIT_EVENT_TYPES.length]!,
        `spiffe://example.org/user/${['alice', 'bob', 'carol'][i % 3]}`,
        { i, note: `entry ${i}` },
      ),
    );
  return entries;
}

/** Swaps the seq values of two rows (through a free seq, as seq is the primary key). */
export function swapSeq(db: AuditDb, a: number, b: number): void {
  db.sql('UPDATE audit_log SET seq = -1 WHERE seq = ?', a);
  db.sql('UPDATE audit_log SET seq = ? WHERE seq = ?', a, b);
  db.sql('UPDATE audit_log SET seq = ? WHERE seq = -1', b);
}
