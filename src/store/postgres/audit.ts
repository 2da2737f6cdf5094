// The audit log on PostgreSQL. The store does not know the hash function: it keeps the chain's shape
// (seq = last + 1, prev_hash = last hash) and stores each entry exactly as built. An append reads the last
// entry and inserts the next under the store's write lock (access `serial`), so concurrent writers on any
// number of processes extend one chain.
import { type AuditChainEnd, auditChainProblem } from '../audit-chain.ts';
import { checkLimit, decodeListCursor, encodeListCursor } from '../cursor.ts';
import { StoreInputError } from '../errors.ts';
import type { AuditEntry, AuditFilter, AuditPage, AuditStore } from '../ports/audit.ts';
import { AUDIT_COLUMNS, type AuditRow, auditFromRow, auditToRow } from '../sqlite/audit.ts';
import { placeholders, prepared, type Run, type Sql, toNumber, unmatchable } from './sql.ts';

type PgAuditRow = Omit<AuditRow, 'seq'> & { seq: string };
type Build = (last: AuditChainEnd) => AuditEntry;

const FIELDS = AUDIT_COLUMNS.split(', ') as (keyof AuditRow)[];
const fromRow = (row: PgAuditRow): AuditEntry => auditFromRow({ ...row, seq: toNumber(row.seq) });

// Every audited request runs both: planned once per connection.
const LAST = prepared('tessera_audit_last', 'SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1');
const APPEND = prepared(
  'tessera_audit_append',
  `INSERT INTO audit_log (${AUDIT_COLUMNS}) VALUES (${placeholders(FIELDS.length)})`,
);

/** WHERE clauses of an audit filter with their parameters, numbered from $1. */
function auditFilterSql(filter: AuditFilter): { where: string[]; params: string[] } {
  const where: string[] = [];
  const params: string[] = [];
  const add = (clause: string, value: string | undefined): void => {
    if (value === undefined) return;
    params.push(value);
    where.push(`${clause} $${params.length}`);
  };
  add('event_type =', filter.event_type);
  add('principal =', filter.principal);
  add('ts >=', filter.since);
  add('ts <', filter.until);
  return { where, params };
}

/** The audit log on one Sql (the pool or a transaction's client). */
export class PgAudit {
  /**
   * The chain's end as this locked transaction last read or wrote it: under the write lock no one else
   * appends, so it is read once per transaction (a group of appends), not once per entry. A savepoint
   * rolled back may undo an append: the connection then drops this object (TxConnection.forget).
   */
  #last: AuditChainEnd | undefined;

  constructor(private readonly db: Sql) {}

  async #chainEnd(): Promise<AuditChainEnd> {
    if (this.db.locked && this.#last !== undefined) return this.#last;
    const { rows } = await this.db.query<{ seq: string; hash: string }>(LAST);
    return rows[0] ? { seq: toNumber(rows[0].seq), hash: rows[0].hash } : null;
  }

  async append(build: Build): Promise<AuditEntry> {
    const last = await this.#chainEnd();
    const entry = build(last);
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
    // Guarded: a value text cannot hold (a NUL character) fails this append alone, not the caller's transaction.
    await this.db.guarded(() =>
      this.db.query(
        APPEND,
        FIELDS.map((field) => row[field]),
      ),
    );
    if (this.db.locked) this.#last = { seq: entry.seq, hash: entry.hash };
    // What listAudit will return: detail after its JSON round trip.
    return auditFromRow(row);
  }

  /**
   * Entries matching every field of the filter, oldest first. `since`/`until` compare ts as strings (byte
   * order), which orders RFC 3339 timestamps correctly only when all are UTC (`Z`) with the same precision.
   */
  async list(filter: AuditFilter, limit: number, cursor?: string | null): Promise<AuditPage> {
    checkLimit(limit);
    const after = cursor === undefined || cursor === null ? 0 : decodeListCursor(cursor);
    const { where, params } = auditFilterSql(filter);
    if (unmatchable(...params)) return { entries: [], total: 0, cursor: null };
    const n = params.length;
    const matching = where.length > 0 ? where.join(' AND ') : 'true';
    // One statement, so the page and its total come from one snapshot (a lateral join keeps the total when
    // the page is empty: one row of NULLs).
    const { rows } = await this.db.query<PgAuditRow & { total: string | number }>(
      `SELECT t.total, p.* FROM (SELECT count(*) AS total FROM audit_log WHERE ${matching}) t
       LEFT JOIN LATERAL (SELECT ${AUDIT_COLUMNS} FROM audit_log WHERE ${matching} AND seq > $${n + 1}
                          ORDER BY seq LIMIT $${n + 2}) p ON true`,
      [...params, after, limit + 1],
    );
    const total = toNumber(rows[0]?.total ?? 0);
    const found = rows.filter((row) => row.seq !== null);
    const more = found.length > limit;
    const page = more ? found.slice(0, limit) : found;
    return {
      entries: page.map(fromRow),
      total,
      cursor: more ? encodeListCursor(toNumber(page[page.length - 1]!.seq)) : null,
    };
  }

  async range(afterSeq: number, limit: number): Promise<AuditEntry[]> {
    checkLimit(limit);
    if (!Number.isSafeInteger(afterSeq) || afterSeq < 0)
      throw new StoreInputError(
        'invalid_cursor',
        `afterSeq must be a non-negative integer (got ${afterSeq})`,
      );
    const { rows } = await this.db.query<PgAuditRow>(
      `SELECT ${AUDIT_COLUMNS} FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2`,
      [afterSeq, limit],
    );
    return rows.map(fromRow);
  }
}

/** The AuditStore port over `run`, with the access each call needs (sql.ts Access). */
export function bindAuditStore(run: Run<PgAudit>): AuditStore {
  return {
    appendAudit: (build) => run('serial', (o) => o.append(build)),
    listAudit: (filter, limit, cursor) => run('read', (o) => o.list(filter, limit, cursor)),
    auditRange: (afterSeq, limit) => run('read', (o) => o.range(afterSeq, limit)),
  };
}
