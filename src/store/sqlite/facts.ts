// Facts and the federation feed on one SQLite connection, with their statements prepared once. Rows carry
// a local insertion `seq`: the order of list pages and of the feed peers pull.
import type Database from 'better-sqlite3';
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
  type FactValue,
  FEDERATION_REMAINING_CAP,
  type FederationPage,
  type FederationQuery,
  type InsertResult,
  type OriginSignature,
  type RecentPage,
  type Scope,
} from '../ports/facts.ts';
import { pagedLists, type Run, type Stmt, snapshotOf, sqliteCode } from './sql.ts';

const FILTER_FIELDS = ['entity', 'relation', 'source', 'scope'] as const;

export const FACT_COLUMNS =
  'seq, id, cid, entity, relation, value, source, confidence, scope, timestamp, valid_until, hlc, attested, received_from, origin_node_id, origin_kid, origin_sig';

export interface FactRow {
  seq: number;
  id: string;
  cid: string;
  entity: string;
  relation: string;
  value: string;
  source: string;
  confidence: number;
  scope: Scope;
  timestamp: string;
  valid_until: string | null;
  hlc: string;
  attested: string | null;
  received_from: string | null;
  origin_node_id: string;
  origin_kid: string | null;
  origin_sig: string | null;
}

/** Positional parameters of the fact INSERT, in FACT_COLUMNS order without seq. */
export type FactParams = [
  string,
  string,
  string,
  string,
  string,
  string,
  number,
  string,
  string,
  string | null,
  string,
  string | null,
  string | null,
  string,
  string | null,
  string | null,
];

export function factParams(record: FactRecord): FactParams {
  return [
    record.id,
    record.cid,
    record.entity,
    record.relation,
    JSON.stringify(record.value),
    record.source,
    record.confidence,
    record.scope,
    record.timestamp,
    record.valid_until ?? null,
    record.hlc,
    record.attested === null || record.attested === undefined ? null : JSON.stringify(record.attested),
    record.received_from ?? null,
    record.origin_node_id,
    record.origin_sig?.kid ?? null,
    record.origin_sig?.sig ?? null,
  ];
}

/**
 * A row of `SELECT ${FACT_COLUMNS}` as better-sqlite3's `.raw()` returns it: the values in FACT_COLUMNS
 * order. Arrays skip the driver's per-row object with 17 named properties (the read paths' largest cost).
 */
export type FactTuple = readonly unknown[];

const COLUMN_NAMES = FACT_COLUMNS.split(', ');

/** The position of a column in FACT_COLUMNS: the tuple indexes are derived from it, so they cannot drift. */
function position(column: keyof FactRow): number {
  const at = COLUMN_NAMES.indexOf(column);
  if (at < 0) throw new Error(`FACT_COLUMNS has no column ${column}`);
  return at;
}

const SEQ = position('seq');
const ID = position('id');
const CID = position('cid');
const ENTITY = position('entity');
const RELATION = position('relation');
const VALUE = position('value');
const SOURCE = position('source');
const CONFIDENCE = position('confidence');
const SCOPE = position('scope');
const TIMESTAMP = position('timestamp');
const VALID_UNTIL = position('valid_until');
const HLC = position('hlc');
const ATTESTED = position('attested');
const RECEIVED_FROM = position('received_from');
const ORIGIN_NODE_ID = position('origin_node_id');
const ORIGIN_KID = position('origin_kid');
const ORIGIN_SIG = position('origin_sig');

/** The seq of a raw fact row. */
export function seqOfTuple(row: FactTuple): number {
  return row[SEQ] as number;
}

/** A fact row with named columns (PostgreSQL, the fact log), mapped as its raw row is. */
export function factFromRow(row: FactRow): FactRecord {
  return factFromTuple(COLUMN_NAMES.map((column) => row[column as keyof FactRow]));
}

/** The record of a raw (positional) fact row. */
export function factFromTuple(row: FactTuple): FactRecord {
  const attested = row[ATTESTED] as string | null;
  const kid = row[ORIGIN_KID] as string | null;
  const sig = row[ORIGIN_SIG] as string | null;
  return {
    id: row[ID] as string,
    entity: row[ENTITY] as string,
    relation: row[RELATION] as string,
    value: JSON.parse(row[VALUE] as string) as FactValue,
    source: row[SOURCE] as string,
    confidence: row[CONFIDENCE] as number,
    scope: row[SCOPE] as Scope,
    timestamp: row[TIMESTAMP] as string,
    valid_until: row[VALID_UNTIL] as string | null,
    hlc: row[HLC] as string,
    cid: row[CID] as string,
    attested: attested === null ? null : (JSON.parse(attested) as unknown),
    received_from: row[RECEIVED_FROM] as string | null,
    origin_node_id: row[ORIGIN_NODE_ID] as string,
    origin_sig: kid === null || sig === null ? null : { kid, sig },
  };
}

export class SqliteFacts {
  readonly #db: Database.Database;
  readonly #insertFact: Stmt<FactParams>;
  readonly #factById: Stmt<[string], FactTuple>;
  readonly #factByCid: Stmt<[string], FactTuple>;
  readonly #factByAlias: Stmt<[string], FactTuple>;
  readonly #setSignature: Stmt<[string, string, string]>;
  readonly #toSign: Stmt<[string, string, number], FactTuple>;
  readonly #maxSeq: Stmt<[], number | null>;
  readonly #maxHlc: Stmt<[], string | null>;
  readonly #lists: (key: string, where: string[]) => Stmt<unknown[], FactTuple>;
  readonly #countStmts = new Map<string, Stmt<unknown[], number>>();
  readonly #recentStmts = new Map<string, Stmt<unknown[], FactTuple>>();
  readonly #feedStmts = new Map<string, Stmt<unknown[], FactTuple>>();
  readonly #remainingStmts = new Map<string, Stmt<unknown[], { n: number }>>();
  /** Runs a callback in one read snapshot (a savepoint when a transaction is already open). */
  readonly #snapshot: <T>(read: () => T) => T;

  constructor(db: Database.Database) {
    this.#db = db;
    // Every fact read returns raw rows (arrays in FACT_COLUMNS order), mapped by factFromTuple.
    this.#lists = pagedLists<FactTuple>(db, 'facts', FACT_COLUMNS, { raw: true });
    const columns = FACT_COLUMNS.replace('seq, ', '');
    const marks = columns
      .split(',')
      .map(() => '?')
      .join(', ');
    // DO NOTHING on any uniqueness conflict (cid or id): the caller then gets the stored record.
    this.#insertFact = db.prepare(`INSERT INTO facts (${columns}) VALUES (${marks}) ON CONFLICT DO NOTHING`);
    this.#factById = db.prepare<[string], FactTuple>(`SELECT ${FACT_COLUMNS} FROM facts WHERE id = ?`).raw();
    this.#factByCid = db
      .prepare<[string], FactTuple>(`SELECT ${FACT_COLUMNS} FROM facts WHERE cid = ?`)
      .raw();
    this.#factByAlias = db
      .prepare<[string], FactTuple>(
        `SELECT ${FACT_COLUMNS} FROM facts WHERE cid = (SELECT cid FROM fact_aliases WHERE alias = ?)`,
      )
      .raw();
    this.#setSignature = db.prepare('UPDATE facts SET origin_kid = ?, origin_sig = ? WHERE cid = ?');
    this.#toSign = db
      .prepare<[string, string, number], FactTuple>(
        `SELECT ${FACT_COLUMNS} FROM facts WHERE origin_node_id = ? AND (origin_kid IS NULL OR origin_kid <> ?) ORDER BY seq LIMIT ?`,
      )
      .raw();
    this.#maxSeq = db.prepare<[], number | null>('SELECT max(seq) FROM facts').pluck();
    // Fixed-width HLC text compares like the clock it encodes.
    this.#maxHlc = db.prepare<[], string | null>('SELECT max(hlc) FROM facts').pluck();
    this.#snapshot = snapshotOf(db);
  }

  insertFact(record: FactRecord): InsertResult {
    let changes: number;
    try {
      changes = this.#insertFact.run(...factParams(record)).changes;
    } catch (error) {
      // NOT NULL / CHECK violations: a record the service should never have built.
      if (sqliteCode(error).startsWith('SQLITE_CONSTRAINT'))
        throw new StoreInputError('invalid_record', `fact ${record.id}: ${(error as Error).message}`);
      throw error;
    }
    if (changes === 1)
      return {
        inserted: true,
        record: {
          ...record,
          valid_until: record.valid_until ?? null,
          attested: record.attested ?? null,
          received_from: record.received_from ?? null,
        },
      };
    const stored = this.#factByCid.get(record.cid);
    if (stored) return { inserted: false, record: factFromTuple(stored) };
    // The id belongs to other content: never a duplicate, or the genuine fact could be squatted.
    if (this.#factById.get(record.id))
      throw new StoreInputError(
        'id_conflict',
        `id ${record.id} is already the id of another fact (offered with ${record.cid})`,
      );
    throw new Error(`fact ${record.id} was neither inserted nor found`);
  }

  getFact(idOrCid: string): FactRecord | null {
    const row =
      (idOrCid.startsWith('sha256:') ? this.#factByCid.get(idOrCid) : undefined) ??
      this.#factById.get(idOrCid) ??
      this.#factByAlias.get(idOrCid);
    return row ? factFromTuple(row) : null;
  }

  setOriginSignature(cid: string, signature: OriginSignature): boolean {
    return this.#setSignature.run(signature.kid, signature.sig, cid).changes === 1;
  }

  factsToSign(originNodeId: string, kid: string, limit: number): FactRecord[] {
    checkLimit(limit);
    return this.#toSign.all(originNodeId, kid, limit).map(factFromTuple);
  }

  listFacts(filter: FactFilter, limit: number, cursor?: string | null): FactPage {
    checkLimit(limit);
    const after = cursor === undefined || cursor === null ? 0 : decodeListCursor(cursor);
    const { key, where, params } = filterSql(filter);
    const statement = this.#lists(key, where);
    return this.#snapshot(() => {
      const rows = statement.all(...params, after, limit + 1);
      const more = rows.length > limit;
      const page = more ? rows.slice(0, limit) : rows;
      return {
        facts: page.map(factFromTuple),
        total: this.countFacts(filter),
        cursor: more ? encodeListCursor(seqOfTuple(page[page.length - 1]!)) : null,
      };
    });
  }

  maxHlc(): string | null {
    return this.#maxHlc.get() ?? null;
  }

  recentFacts(filter: FactFilter, limit: number, cursor?: string | null): RecentPage {
    checkLimit(limit);
    const before =
      cursor === undefined || cursor === null ? Number.MAX_SAFE_INTEGER : decodeListCursor(cursor);
    const { key, where, params } = filterSql(filter);
    let statement = this.#recentStmts.get(key);
    if (!statement) {
      statement = this.#db
        .prepare<unknown[], FactTuple>(
          `SELECT ${FACT_COLUMNS} FROM facts WHERE ${[...where, 'seq < ?'].join(' AND ')} ORDER BY seq DESC LIMIT ?`,
        )
        .raw();
      this.#recentStmts.set(key, statement);
    }
    const rows = statement.all(...params, before, limit + 1);
    const page = rows.slice(0, limit);
    return {
      facts: page.map(factFromTuple),
      cursor: rows.length > limit ? encodeListCursor(seqOfTuple(page[page.length - 1]!)) : null,
    };
  }

  countFacts(filter: FactFilter = {}): number {
    const { key, where, params } = filterSql(filter);
    let count = this.#countStmts.get(key);
    if (!count) {
      const clause = where.length > 0 ? ` WHERE ${where.join(' AND ')}` : '';
      count = this.#db.prepare<unknown[], number>(`SELECT count(*) FROM facts${clause}`).pluck();
      this.#countStmts.set(key, count);
    }
    return count.get(...params) ?? 0;
  }

  /**
   * Facts after the cursor in seq order. The scan is bounded by the newest seq read in the same snapshot, so
   * a page that is not full can move the cursor to that bound: facts the peer may not receive are then
   * scanned once, not on every pull. With a full page the cursor stops just before the next match.
   */
  federationPage(query: FederationQuery): FederationPage {
    checkLimit(query.limit);
    const after = decodeFederationCursor(query.after);
    const scopes = [...new Set(query.scopes)];
    const statement = this.#feedStatement(scopes.length, query);
    const params: unknown[] = [...scopes];
    if (query.originNodeId !== undefined) params.push(query.originNodeId);
    if (query.excludeOrigin !== undefined) params.push(query.excludeOrigin);
    return this.#snapshot(() => {
      const head = Math.max(after, this.#maxSeq.get() ?? 0);
      if (scopes.length === 0 || head === after)
        return { facts: [], cursor: encodeFederationCursor(head), more: false, remaining: 0 };
      const rows = statement.all(after, head, ...params, query.limit + 1);
      if (rows.length <= query.limit)
        return {
          facts: rows.map(factFromTuple),
          cursor: encodeFederationCursor(head),
          more: false,
          remaining: 0,
        };
      const next = seqOfTuple(rows[query.limit]!) - 1;
      const counted = this.#remainingStatement(scopes.length, query).get(
        next,
        head,
        ...params,
        FEDERATION_REMAINING_CAP,
      );
      return {
        facts: rows.slice(0, query.limit).map(factFromTuple),
        cursor: encodeFederationCursor(next),
        more: true,
        remaining: counted?.n ?? 0,
      };
    });
  }

  #feedStatement(scopeCount: number, query: FederationQuery): Stmt<unknown[], FactTuple> {
    const key = feedKey(scopeCount, query);
    let statement = this.#feedStmts.get(key);
    if (!statement) {
      statement = this.#db
        .prepare<unknown[], FactTuple>(
          `SELECT ${FACT_COLUMNS} FROM facts WHERE ${feedWhere(scopeCount, query)} ORDER BY seq LIMIT ?`,
        )
        .raw();
      this.#feedStmts.set(key, statement);
    }
    return statement;
  }

  /** Counts what the feed query would return after a page, stopping at the cap (a LIMIT inside the count). */
  #remainingStatement(scopeCount: number, query: FederationQuery): Stmt<unknown[], { n: number }> {
    const key = feedKey(scopeCount, query);
    let statement = this.#remainingStmts.get(key);
    if (!statement) {
      statement = this.#db.prepare(
        `SELECT count(*) AS n FROM (SELECT 1 FROM facts WHERE ${feedWhere(scopeCount, query)} LIMIT ?)`,
      );
      this.#remainingStmts.set(key, statement);
    }
    return statement;
  }
}

function feedKey(scopeCount: number, query: FederationQuery): string {
  return `${scopeCount}:${query.originNodeId !== undefined}:${query.excludeOrigin !== undefined}`;
}

/** The feed's WHERE: parameters (after, head, ...scopes, origin?, excluded origin?). */
function feedWhere(scopeCount: number, query: FederationQuery): string {
  // An unsigned fact (stored before origin signatures, not yet re-signed) could not be verified downstream.
  const where = ['seq > ?', 'seq <= ?', 'origin_sig IS NOT NULL'];
  // `+scope`: never the scope index, whose rows for several scopes would need sorting by seq.
  if (scopeCount > 0) where.push(`+scope IN (${new Array(scopeCount).fill('?').join(', ')})`);
  if (query.originNodeId !== undefined) where.push('origin_node_id = ?');
  if (query.excludeOrigin !== undefined) where.push('origin_node_id <> ?');
  return where.join(' AND ');
}

export function bindFactStore(run: Run<SqliteFacts>): FactStore {
  return {
    insertFact: (record) => run('write', (o) => o.insertFact(record)),
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

/** WHERE clauses of a list filter, most selective field first; equal filter shapes share a statement. */
function filterSql(filter: FactFilter): { key: string; where: string[]; params: (string | Scope)[] } {
  const where: string[] = [];
  const params: string[] = [];
  let key = '';
  for (const field of FILTER_FIELDS) {
    const value = filter[field];
    if (value === undefined) continue;
    // Only the first (most selective) field may use its index: the planner has no statistics and would
    // otherwise pick any of them, e.g. the four-valued scope over the entity.
    where.push(where.length === 0 ? `${field} = ?` : `+${field} = ?`);
    params.push(value);
    key += `${field};`;
  }
  return { key, where, params };
}
