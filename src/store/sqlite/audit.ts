// The audit log on one SQLite connection. The store does not know the hash function: it only keeps the
// chain's shape (seq = last + 1, prev_hash = last hash) and stores each entry exactly as built.
import type Database from 'better-sqlite3';
import { type AuditChainEnd, auditChainProblem } from '../audit-chain.ts';
import { checkLimit, decodeListCursor, encodeListCursor } from '../cursor.ts';
import { StoreInputError } from '../errors.ts';
import type { AuditEntry, AuditFilter, AuditPage, AuditStore } from '../ports/audit.ts';
import { namedParams, pagedLists, type Run, type Stmt, snapshotOf } from './sql.ts';

export const AUDIT_COLUMNS = 'seq, ts, event_type, principal, detail, prev_hash, hash';

export interface AuditRow {
  seq: number;
  ts: string;
  event_type: string;
  principal: string | null;
  detail: string;
  prev_hash: string;
  hash: string;
}

export function auditToRow(entry: AuditEntry): AuditRow {
  return {
    seq: entry.seq,
    ts: entry.ts,
    event_type: entry.event_type,
    principal: entry.principal ?? null,
    detail: JSON.stringify(entry.detail),
    prev_hash: entry.prev_hash,
    hash: entry.hash,
  };
}

export function auditFromRow(row: AuditRow): AuditEntry {
  return {
    seq: row.seq,
    ts: row.ts,
    event_type: row.event_type,
    principal: row.principal,
    detail: JSON.parse(row.detail) as Record<string, unknown>,
    prev_hash: row.prev_hash,
    hash: row.hash,
  };
}
type Last = AuditChainEnd;
type Build = (last: Last) => AuditEntry;

export class SqliteAudit {
  readonly #last: Stmt<[], { seq: number; hash: string }>;
  readonly #insert: Stmt<[AuditRow]>;
  readonly #range: Stmt<[number, number], AuditRow>;
  readonly #lists: (key: string, where: string[]) => Stmt<unknown[], AuditRow>;
  readonly #counts = new Map<string, Stmt<unknown[], number>>();
  readonly #db: Database.Database;
  /** The page and its total in one read snapshot (a savepoint inside an open transaction). */
  readonly #snapshot: <T>(read: () => T) => T;
  /** Read last, build, insert as one IMMEDIATE transaction (a savepoint inside the caller's). */
  readonly #append: (build: Build) => AuditEntry;

  constructor(db: Database.Database) {
    this.#db = db;
    this.#snapshot = snapshotOf(db);
    this.#lists = pagedLists<AuditRow>(db, 'audit_log', AUDIT_COLUMNS);
    this.#last = db.prepare('SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1');
    this.#insert = db.prepare(
      `INSERT INTO audit_log (${AUDIT_COLUMNS}) VALUES (${namedParams(AUDIT_COLUMNS)})`,
    );
    this.#range = db.prepare(`SELECT ${AUDIT_COLUMNS} FROM audit_log WHERE seq > ? ORDER BY seq LIMIT ?`);
    const append = db.transaction((build: Build) => this.#appendNow(build));
    // IMMEDIATE takes the write lock before reading the last entry: another process cannot slip in between.
    this.#append = (build) => append.immediate(build);
  }

  append(build: Build): AuditEntry {
    return this.#append(build);
  }

  #appendNow(build: Build): AuditEntry {
    const last = this.#last.get() ?? null;
    const entry = build(last ? { seq: last.seq, hash: last.hash } : null);
    const problem = auditChainProblem(entry, last);
    if (problem !== null) throw new StoreInputError('invalid_record', `audit entry: ${problem}`);
    let row: AuditRow;
    try {
      row = auditToRow(entry);
    } catch (error) {
      throw new StoreInputError(
        'invalid_record',
        `audit entry: detail is not JSON (${(error as Error).message})`,
      );
    }
    this.#insert.run(row);
    // What listAudit will return: detail after its JSON round trip.
    return auditFromRow(row);
  }

  /**
   * Entries matching every field of the filter, oldest first. `since`/`until` compare ts as strings, which
   * orders RFC 3339 timestamps correctly only when all are UTC (`Z`) with the same number of fraction digits.
   */
  list(filter: AuditFilter, limit: number, cursor?: string | null): AuditPage {
    checkLimit(limit);
    const after = cursor === undefined || cursor === null ? 0 : decodeListCursor(cursor);
    const { key, where, params } = auditFilterSql(filter);
    const statement = this.#lists(key, where);
    return this.#snapshot(() => {
      const rows = statement.all(...params, after, limit + 1);
      const more = rows.length > limit;
      const page = more ? rows.slice(0, limit) : rows;
      return {
        entries: page.map(auditFromRow),
        total: this.#count(key, where, params),
        cursor: more ? encodeListCursor(page[page.length - 1]!.seq) : null,
      };
    });
  }

  #count(key: string, where: string[], params: string[]): number {
    let count = this.#counts.get(key);
    if (!count) {
      const clause = where.length > 0 ? ` WHERE ${where.join(' AND ')}` : '';
      count = this.#db.prepare<unknown[], number>(`SELECT count(*) FROM audit_log${clause}`).pluck();
      this.#counts.set(key, count);
    }
    return count.get(...params) ?? 0;
  }

  range(afterSeq: number, limit: number): AuditEntry[] {
    checkLimit(limit);
    if (!Number.isSafeInteger(afterSeq) || afterSeq < 0)
      throw new StoreInputError(
        'invalid_cursor',
        `afterSeq must be a non-negative integer (got ${afterSeq})`,
      );
    return this.#range.all(afterSeq, limit).map(auditFromRow);
  }
}

export function bindAuditStore(run: Run<SqliteAudit>): AuditStore {
  return {
    appendAudit: (build) => run('write', (o) => o.append(build)),
    listAudit: (filter, limit, cursor) => run('read', (o) => o.list(filter, limit, cursor)),
    auditRange: (afterSeq, limit) => run('read', (o) => o.range(afterSeq, limit)),
  };
}

/** WHERE clauses of an audit filter; equal filter shapes share a statement. */
function auditFilterSql(filter: AuditFilter): { key: string; where: string[]; params: string[] } {
  const where: string[] = [];
  const params: string[] = [];
  let key = '';
  const add = (name: string, clause: string, value: string | undefined): void => {
    if (value === undefined) return;
    // Only the first condition may use its index (the planner has no statistics to choose well); an
    // equality index then yields its rows in seq order already.
    where.push(where.length === 0 ? clause : `+${clause}`);
    params.push(value);
    key += `${name};`;
  };
  add('event_type', 'event_type = ?', filter.event_type);
  add('principal', 'principal = ?', filter.principal);
  add('since', 'ts >= ?', filter.since);
  add('until', 'ts < ?', filter.until);
  return { key, where, params };
}
