// Facts and the federation feed on PostgreSQL. Rows carry a local insertion `seq` (an identity column):
// the order of list pages and of the feed peers pull. Facts are inserted only under the store's write
// lock (store.ts), so a row with a higher seq never commits before one with a lower seq.
import {
  checkLimit,
  decodeFederationCursor,
  decodeListCursor,
  encodeFederationCursor,
  encodeListCursor,
} from '../cursor.ts';
import { StoreInputError } from '../errors.ts';
import {
  type FactFilter,
  type FactPage,
  type FactRecord,
  type FactStore,
  FEDERATION_REMAINING_CAP,
  type FederationPage,
  type FederationQuery,
  type InsertResult,
  type OriginSignature,
  type RecentPage,
} from '../ports/facts.ts';
// The same row encoding as SQLite (JSON text as JSON.stringify writes it), so records round-trip identically.
import { FACT_COLUMNS, type FactRow, factFromRow, factParams } from '../sqlite/facts.ts';
import { factRefusal } from './refusals.ts';
import {
  isConstraintViolation,
  isDataException,
  type Prepared,
  placeholders,
  prepared,
  type Run,
  type Sql,
  toNumber,
  unmatchable,
} from './sql.ts';

const FILTER_FIELDS = ['entity', 'relation', 'source', 'scope'] as const;
const INSERT_COLUMNS = FACT_COLUMNS.replace('seq, ', '');

/** A fact row as pg returns it: seq is a bigint, so a decimal string. */
type PgFactRow = Omit<FactRow, 'seq'> & { seq: string };

const fromRow = (row: PgFactRow): FactRecord => factFromRow({ ...row, seq: toNumber(row.seq) });

// DO NOTHING on any uniqueness conflict (cid or id): the caller then gets the stored record.
const INSERT = prepared(
  'tessera_fact_insert',
  `INSERT INTO facts (${INSERT_COLUMNS}) VALUES (${placeholders(16)}) ON CONFLICT DO NOTHING`,
);
const BY_CID = prepared('tessera_fact_by_cid', `SELECT ${FACT_COLUMNS} FROM facts WHERE cid = $1`);
const SET_SIGNATURE = prepared(
  'tessera_fact_set_signature',
  'UPDATE facts SET origin_kid = $1, origin_sig = $2 WHERE cid = $3',
);
const BY_ID = prepared('tessera_fact_by_id', `SELECT ${FACT_COLUMNS} FROM facts WHERE id = $1`);
// Fixed-width HLC text compares (byte-wise, COLLATE "C") like the clock it encodes.
const MAX_HLC = prepared('tessera_fact_max_hlc', 'SELECT max(hlc) AS hlc FROM facts');

/** getFact's lookups, best match first: `$1` as a CID (only for `sha256:…`), as an id, as a former id. */
function lookup(name: string, parts: string[]): Prepared {
  const union = parts.map(
    (where, rank) => `(SELECT ${rank} AS rank, ${FACT_COLUMNS} FROM facts WHERE ${where})`,
  );
  return prepared(name, `${union.join(' UNION ALL ')} ORDER BY rank LIMIT 1`);
}
const BY_ALIAS = 'cid = (SELECT cid FROM fact_aliases WHERE alias = $1)';
const GET_CID_FIRST = lookup('tessera_fact_get_cid', ['cid = $1', 'id = $1', BY_ALIAS]);
const GET_ID_FIRST = lookup('tessera_fact_get_id', ['id = $1', BY_ALIAS]);

/** WHERE clauses of a list filter with their parameters, numbered from $1. */
function filterSql(filter: FactFilter): { where: string[]; params: string[] } {
  const where: string[] = [];
  const params: string[] = [];
  for (const field of FILTER_FIELDS) {
    const value = filter[field];
    if (value === undefined) continue;
    params.push(value);
    where.push(`${field} = $${params.length}`);
  }
  return { where, params };
}

/** Facts and the federation feed on one Sql (the pool or a transaction's client). */
export class PgFacts {
  /** The largest HLC stored, as first read in this locked transaction and then raised by its inserts. */
  #maxHlc: string | null | undefined;

  constructor(private readonly db: Sql) {}

  async insertFact(record: FactRecord): Promise<InsertResult> {
    const params = factParams(record);
    const refusal = factRefusal(params);
    if (refusal !== null) throw new StoreInputError('invalid_record', `fact ${record.id}: ${refusal}`);
    let inserted: number | null;
    try {
      inserted = (await this.db.query(INSERT, params)).rowCount;
    } catch (error) {
      // Whatever the check above missed: a record the service should never have built.
      if (isConstraintViolation(error) || isDataException(error))
        throw new StoreInputError('invalid_record', `fact ${record.id}: ${(error as Error).message}`);
      throw error;
    }
    if (inserted === 1) {
      if (this.#maxHlc !== undefined && (this.#maxHlc === null || record.hlc > this.#maxHlc))
        this.#maxHlc = record.hlc;
      return {
        inserted: true,
        record: {
          ...record,
          valid_until: record.valid_until ?? null,
          attested: record.attested ?? null,
          received_from: record.received_from ?? null,
        },
      };
    }
    const stored = await this.#one(BY_CID, record.cid);
    if (stored) return { inserted: false, record: stored };
    // The id belongs to other content: never a duplicate, or the genuine fact could be squatted.
    if (await this.#one(BY_ID, record.id))
      throw new StoreInputError(
        'id_conflict',
        `id ${record.id} is already the id of another fact (offered with ${record.cid})`,
      );
    throw new Error(`fact ${record.id} was neither inserted nor found`);
  }

  async #one(statement: Prepared, value: string): Promise<FactRecord | null> {
    const { rows } = await this.db.query<PgFactRow>(statement, [value]);
    return rows[0] ? fromRow(rows[0]) : null;
  }

  /** By CID (for `sha256:`), else by id, else by alias: in that order of precedence, in one statement. */
  async getFact(idOrCid: string): Promise<FactRecord | null> {
    if (unmatchable(idOrCid)) return null;
    const statement = idOrCid.startsWith('sha256:') ? GET_CID_FIRST : GET_ID_FIRST;
    const { rows } = await this.db.query<PgFactRow>(statement, [idOrCid]);
    return rows[0] ? fromRow(rows[0]) : null;
  }

  async setOriginSignature(cid: string, signature: OriginSignature): Promise<boolean> {
    const result = await this.db.query(SET_SIGNATURE, [signature.kid, signature.sig, cid]);
    return result.rowCount === 1;
  }

  async factsToSign(originNodeId: string, kid: string, limit: number): Promise<FactRecord[]> {
    checkLimit(limit);
    const { rows } = await this.db.query<PgFactRow>(
      `SELECT ${FACT_COLUMNS} FROM facts WHERE origin_node_id = $1 AND (origin_kid IS NULL OR origin_kid <> $2)
       ORDER BY seq LIMIT $3`,
      [originNodeId, kid, limit],
    );
    return rows.map(fromRow);
  }

  /** A page and the total in one statement, so both come from one snapshot. */
  async listFacts(filter: FactFilter, limit: number, cursor?: string | null): Promise<FactPage> {
    checkLimit(limit);
    const after = cursor === undefined || cursor === null ? 0 : decodeListCursor(cursor);
    const { where, params } = filterSql(filter);
    if (unmatchable(...params)) return { facts: [], total: 0, cursor: null };
    const matching = where.length > 0 ? where.join(' AND ') : 'true';
    const n = params.length;
    const { rows } = await this.db.query<PgFactRow & { total: string }>(
      `SELECT (SELECT count(*) FROM facts WHERE ${matching}) AS total, page.*
       FROM (SELECT 1) AS one LEFT JOIN LATERAL (
         SELECT ${FACT_COLUMNS} FROM facts WHERE ${matching} AND seq > $${n + 1} ORDER BY seq LIMIT $${n + 2}
       ) AS page ON true
       ORDER BY page.seq`,
      [...params, after, limit + 1],
    );
    const total = toNumber(rows[0]?.total ?? 0);
    const found = rows.filter((row) => row.seq !== null);
    const more = found.length > limit;
    const page = more ? found.slice(0, limit) : found;
    return {
      facts: page.map(fromRow),
      total,
      cursor: more ? encodeListCursor(toNumber(page[page.length - 1]!.seq)) : null,
    };
  }

  async recentFacts(filter: FactFilter, limit: number, cursor?: string | null): Promise<RecentPage> {
    checkLimit(limit);
    const before =
      cursor === undefined || cursor === null ? Number.MAX_SAFE_INTEGER : decodeListCursor(cursor);
    const { where, params } = filterSql(filter);
    if (unmatchable(...params)) return { facts: [], cursor: null };
    const n = params.length;
    const { rows } = await this.db.query<PgFactRow>(
      `SELECT ${FACT_COLUMNS} FROM facts WHERE ${[...where, `seq < $${n + 1}`].join(' AND ')}
       ORDER BY seq DESC LIMIT $${n + 2}`,
      [...params, before, limit + 1],
    );
    const page = rows.slice(0, limit);
    return {
      facts: page.map(fromRow),
      cursor: rows.length > limit ? encodeListCursor(toNumber(page[page.length - 1]!.seq)) : null,
    };
  }

  async countFacts(filter: FactFilter = {}): Promise<number> {
    const { where, params } = filterSql(filter);
    if (unmatchable(...params)) return 0;
    const clause = where.length > 0 ? ` WHERE ${where.join(' AND ')}` : '';
    const { rows } = await this.db.query<{ count: string }>(`SELECT count(*) FROM facts${clause}`, params);
    return toNumber(rows[0]?.count ?? 0);
  }

  /**
   * Under the write lock only this transaction inserts facts, so the largest HLC, read once, stays known
   * by following its own inserts: one read per transaction (a group of writes), not one per write. A
   * savepoint rolled back drops what was remembered (TxConnection.forget).
   */
  async maxHlc(): Promise<string | null> {
    if (this.db.locked && this.#maxHlc !== undefined) return this.#maxHlc;
    const { rows } = await this.db.query<{ hlc: string | null }>(MAX_HLC);
    const hlc = rows[0]?.hlc ?? null;
    if (this.db.locked) this.#maxHlc = hlc;
    return hlc;
  }

  /**
   * Facts after the cursor in seq order. The scan is bounded by the newest seq read in the same statement
   * (one snapshot), so a page that is not full can move the cursor to that bound: facts the peer may not
   * receive are then scanned once, not on every pull. With a full page the cursor stops just before the
   * next match. Every seq up to that bound is committed: seq order is commit order (the write lock).
   */
  async federationPage(query: FederationQuery): Promise<FederationPage> {
    checkLimit(query.limit);
    const after = decodeFederationCursor(query.after);
    const scopes = [...new Set(query.scopes)];
    const params: unknown[] = [after, scopes, query.limit + 1];
    const where = feedWhere(query, params);
    const { rows } = await this.db.query<PgFactRow & { head: string }>(
      `SELECT head.seq AS head, page.*
       FROM (SELECT greatest($1::bigint, coalesce(max(seq), 0)) AS seq FROM facts) AS head
       LEFT JOIN LATERAL (
         SELECT ${FACT_COLUMNS} FROM facts WHERE ${where} AND seq <= head.seq ORDER BY seq LIMIT $3
       ) AS page ON true
       ORDER BY page.seq`,
      params,
    );
    const head = toNumber(rows[0]?.head ?? after);
    const found = rows.filter((row) => row.seq !== null);
    if (found.length <= query.limit)
      return { facts: found.map(fromRow), cursor: encodeFederationCursor(head), more: false, remaining: 0 };
    const next = toNumber(found[query.limit]!.seq) - 1;
    // What is still waiting up to the same head, counted no further than the cap.
    const countParams: unknown[] = [next, scopes, FEDERATION_REMAINING_CAP];
    const countWhere = feedWhere(query, countParams);
    const counted = await this.db.query<{ n: string }>(
      `SELECT count(*) AS n FROM (SELECT 1 FROM facts WHERE ${countWhere} AND seq <= $${countParams.push(head)} LIMIT $3) AS waiting`,
      countParams,
    );
    return {
      facts: found.slice(0, query.limit).map(fromRow),
      cursor: encodeFederationCursor(next),
      more: true,
      remaining: toNumber(counted.rows[0]?.n ?? '0'),
    };
  }
}

/** The feed's WHERE over params ($1 after, $2 scopes, $3 a limit; origin filters are appended to params). */
function feedWhere(query: FederationQuery, params: unknown[]): string {
  // An unsigned fact (stored before origin signatures, not yet re-signed) could not be verified downstream.
  const where = ['seq > $1', 'origin_sig IS NOT NULL', 'scope = ANY ($2::text[])'];
  if (query.originNodeId !== undefined) where.push(`origin_node_id = $${params.push(query.originNodeId)}`);
  if (query.excludeOrigin !== undefined) where.push(`origin_node_id <> $${params.push(query.excludeOrigin)}`);
  return where.join(' AND ');
}

/** The FactStore port over `run`, with the access each call needs (sql.ts Access). */
export function bindFactStore(run: Run<PgFacts>): FactStore {
  return {
    insertFact: (record) => run('serial', (o) => o.insertFact(record)),
    getFact: (idOrCid) => run('read', (o) => o.getFact(idOrCid)),
    setOriginSignature: (cid, signature) => run('write', (o) => o.setOriginSignature(cid, signature)),
    factsToSign: (originNodeId, kid, limit) => run('read', (o) => o.factsToSign(originNodeId, kid, limit)),
    listFacts: (filter, limit, cursor) => run('read', (o) => o.listFacts(filter, limit, cursor)),
    recentFacts: (filter, limit, cursor) => run('read', (o) => o.recentFacts(filter, limit, cursor)),
    countFacts: (filter) => run('read', (o) => o.countFacts(filter)),
    maxHlc: () => run('read', (o) => o.maxHlc()),
    federationPage: (query) => run('read', (o) => o.federationPage(query)),
  };
}
