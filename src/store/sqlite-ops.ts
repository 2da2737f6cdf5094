// Every store operation as a synchronous call on one SQLite connection, with its statements prepared once.
// sqlite.ts decides which connection runs a call (the writer, inside or outside a transaction, or the
// reader) and wraps the result in a Promise.
import type Database from 'better-sqlite3';
import type { FactRecord, Scope } from '../node/facts/types.ts';
import {
  checkLimit,
  decodeFederationCursor,
  decodeListCursor,
  encodeFederationCursor,
  encodeListCursor,
} from './cursor.ts';
import { StoreInputError } from './errors.ts';
import { SqliteApiKeyOps } from './sqlite-api-keys.ts';
import { SqliteAuditOps } from './sqlite-audit.ts';
import { SqliteCapabilityOps } from './sqlite-capabilities.ts';
import {
  FACT_COLUMNS,
  type FactParams,
  type FactRow,
  factFromRow,
  factParams,
  type PeerRow,
  peerFromRow,
  peerToRow,
} from './sqlite-rows.ts';
import type {
  FactFilter,
  FactPage,
  FederationPage,
  FederationQuery,
  InsertResult,
  PeerRecord,
} from './store.ts';

type Stmt<P extends unknown[] = unknown[], R = unknown> = Database.Statement<P, R>;

const FILTER_FIELDS = ['entity', 'relation', 'source', 'scope'] as const;

function sqliteCode(error: unknown): string {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' ? code : '';
}

export class SqliteOps {
  readonly apiKeys: SqliteApiKeyOps;
  readonly audit: SqliteAuditOps;
  readonly capabilities: SqliteCapabilityOps;
  readonly #db: Database.Database;
  readonly #insertFact: Stmt<FactParams>;
  readonly #factById: Stmt<[string], FactRow>;
  readonly #factByCid: Stmt<[string], FactRow>;
  readonly #maxSeq: Stmt<[], number | null>;
  readonly #listStmts = new Map<string, Stmt<unknown[], FactRow>>();
  readonly #countStmts = new Map<string, Stmt<unknown[], number>>();
  readonly #feedStmts = new Map<string, Stmt<unknown[], FactRow>>();
  readonly #insertPeer: Stmt<[PeerRow]>;
  readonly #updatePeer: Stmt<[PeerRow]>;
  readonly #peerById: Stmt<[string], PeerRow>;
  readonly #peerByUri: Stmt<[string], PeerRow>;
  readonly #allPeers: Stmt<[], PeerRow>;
  readonly #getCursor: Stmt<[string], string>;
  readonly #setCursor: Stmt<[string, string]>;
  readonly #insertJti: Stmt<[string, number]>;
  readonly #pruneJtis: Stmt<[number]>;
  readonly #getMeta: Stmt<[string], string>;
  readonly #setMeta: Stmt<[string, string]>;
  /** Runs a callback in one read snapshot (a savepoint when a transaction is already open). */
  readonly #snapshot: <T>(read: () => T) => T;

  constructor(
    db: Database.Database,
    private readonly now: () => Date,
  ) {
    this.#db = db;
    this.apiKeys = new SqliteApiKeyOps(db);
    this.audit = new SqliteAuditOps(db);
    this.capabilities = new SqliteCapabilityOps(db);
    const columns = FACT_COLUMNS.replace('seq, ', '');
    const marks = columns
      .split(',')
      .map(() => '?')
      .join(', ');
    // DO NOTHING on any uniqueness conflict (cid or id): the caller then gets the stored record.
    this.#insertFact = db.prepare(`INSERT INTO facts (${columns}) VALUES (${marks}) ON CONFLICT DO NOTHING`);
    this.#factById = db.prepare(`SELECT ${FACT_COLUMNS} FROM facts WHERE id = ?`);
    this.#factByCid = db.prepare(`SELECT ${FACT_COLUMNS} FROM facts WHERE cid = ?`);
    this.#maxSeq = db.prepare<[], number | null>('SELECT max(seq) FROM facts').pluck();
    const peerColumns =
      'id, entity_uri, federation_url, public_key, key_id, fingerprint, tls_spki_sha256, status, allowed_scopes, created_at, updated_at';
    this.#insertPeer = db.prepare(
      `INSERT INTO peers (${peerColumns}) VALUES (${peerColumns
        .split(', ')
        .map((c) => `@${c}`)
        .join(', ')})`,
    );
    this.#updatePeer = db.prepare(
      `UPDATE peers SET ${peerColumns
        .split(', ')
        .filter((c) => c !== 'id')
        .map((c) => `${c} = @${c}`)
        .join(', ')} WHERE id = @id`,
    );
    this.#peerById = db.prepare(`SELECT ${peerColumns} FROM peers WHERE id = ?`);
    this.#peerByUri = db.prepare(`SELECT ${peerColumns} FROM peers WHERE entity_uri = ?`);
    this.#allPeers = db.prepare(`SELECT ${peerColumns} FROM peers ORDER BY created_at, id`);
    this.#getCursor = db
      .prepare<[string], string>('SELECT cursor FROM pull_cursors WHERE peer_id = ?')
      .pluck();
    this.#setCursor = db.prepare(
      'INSERT INTO pull_cursors (peer_id, cursor) VALUES (?, ?) ON CONFLICT (peer_id) DO UPDATE SET cursor = excluded.cursor',
    );
    this.#insertJti = db.prepare(
      'INSERT INTO seen_jtis (jti, expires_at) VALUES (?, ?) ON CONFLICT (jti) DO NOTHING',
    );
    this.#pruneJtis = db.prepare('DELETE FROM seen_jtis WHERE expires_at < ?');
    this.#getMeta = db.prepare<[string], string>('SELECT value FROM meta WHERE key = ?').pluck();
    this.#setMeta = db.prepare(
      'INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
    );
    const snapshot = db.transaction((read: () => unknown) => read());
    this.#snapshot = <T>(read: () => T): T => snapshot(read) as T;
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
    const stored = this.#factByCid.get(record.cid) ?? this.#factById.get(record.id);
    if (!stored) throw new Error(`fact ${record.id} was neither inserted nor found`);
    return { inserted: false, record: factFromRow(stored) };
  }

  getFact(idOrCid: string): FactRecord | null {
    const row =
      (idOrCid.startsWith('sha256:') ? this.#factByCid.get(idOrCid) : undefined) ??
      this.#factById.get(idOrCid);
    return row ? factFromRow(row) : null;
  }

  listFacts(filter: FactFilter, limit: number, cursor?: string | null): FactPage {
    checkLimit(limit);
    const after = cursor === undefined || cursor === null ? 0 : decodeListCursor(cursor);
    const { key, where, params } = filterSql(filter);
    let list = this.#listStmts.get(key);
    if (!list) {
      list = this.#db.prepare(
        `SELECT ${FACT_COLUMNS} FROM facts WHERE ${[...where, 'seq > ?'].join(' AND ')} ORDER BY seq LIMIT ?`,
      );
      this.#listStmts.set(key, list);
    }
    const statement = list;
    return this.#snapshot(() => {
      const rows = statement.all(...params, after, limit + 1);
      const more = rows.length > limit;
      const page = more ? rows.slice(0, limit) : rows;
      return {
        facts: page.map(factFromRow),
        total: this.countFacts(filter),
        cursor: more ? encodeListCursor(page[page.length - 1]!.seq) : null,
      };
    });
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
        return { facts: [], cursor: encodeFederationCursor(head), more: false };
      const rows = statement.all(after, head, ...params, query.limit + 1);
      if (rows.length <= query.limit)
        return { facts: rows.map(factFromRow), cursor: encodeFederationCursor(head), more: false };
      return {
        facts: rows.slice(0, query.limit).map(factFromRow),
        cursor: encodeFederationCursor(rows[query.limit]!.seq - 1),
        more: true,
      };
    });
  }

  #feedStatement(scopeCount: number, query: FederationQuery): Stmt<unknown[], FactRow> {
    const origin = query.originNodeId !== undefined;
    const exclude = query.excludeOrigin !== undefined;
    const key = `${scopeCount}:${origin}:${exclude}`;
    let statement = this.#feedStmts.get(key);
    if (!statement) {
      const where = ['seq > ?', 'seq <= ?'];
      // `+scope`: never the scope index, whose rows for several scopes would need sorting by seq.
      if (scopeCount > 0) where.push(`+scope IN (${new Array(scopeCount).fill('?').join(', ')})`);
      if (origin) where.push('origin_node_id = ?');
      if (exclude) where.push('origin_node_id <> ?');
      statement = this.#db.prepare(
        `SELECT ${FACT_COLUMNS} FROM facts WHERE ${where.join(' AND ')} ORDER BY seq LIMIT ?`,
      );
      this.#feedStmts.set(key, statement);
    }
    return statement;
  }

  addPeer(peer: PeerRecord): void {
    try {
      this.#insertPeer.run(peerToRow(peer));
    } catch (error) {
      const code = sqliteCode(error);
      if (code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === 'SQLITE_CONSTRAINT_UNIQUE')
        throw new StoreInputError(
          'peer_exists',
          `a peer with id ${peer.id} or entity URI ${peer.entityUri} exists`,
        );
      throw error;
    }
  }

  getPeer(id: string): PeerRecord | null {
    const row = this.#peerById.get(id);
    return row ? peerFromRow(row) : null;
  }

  getPeerByEntityUri(entityUri: string): PeerRecord | null {
    const row = this.#peerByUri.get(entityUri);
    return row ? peerFromRow(row) : null;
  }

  listPeers(): PeerRecord[] {
    return this.#allPeers.all().map(peerFromRow);
  }

  updatePeer(id: string, changes: Partial<Omit<PeerRecord, 'id' | 'createdAt'>>): PeerRecord | null {
    const current = this.getPeer(id);
    if (!current) return null;
    const defined = Object.fromEntries(Object.entries(changes).filter(([, value]) => value !== undefined));
    const updated: PeerRecord = {
      ...current,
      ...defined,
      id: current.id,
      createdAt: current.createdAt,
      updatedAt: changes.updatedAt ?? this.now().toISOString(),
    };
    try {
      this.#updatePeer.run(peerToRow(updated));
    } catch (error) {
      if (sqliteCode(error) === 'SQLITE_CONSTRAINT_UNIQUE')
        throw new StoreInputError('peer_exists', `another peer has entity URI ${updated.entityUri}`);
      throw error;
    }
    return updated;
  }

  getPullCursor(peerId: string): string | null {
    return this.#getCursor.get(peerId) ?? null;
  }

  setPullCursor(peerId: string, cursor: string): void {
    try {
      this.#setCursor.run(peerId, cursor);
    } catch (error) {
      if (sqliteCode(error) === 'SQLITE_CONSTRAINT_FOREIGNKEY')
        throw new StoreInputError('unknown_peer', `no peer ${peerId} to hold a pull cursor for`);
      throw error;
    }
  }

  rememberJti(jti: string, expiresAt: number): boolean {
    return this.#insertJti.run(jti, expiresAt).changes === 1;
  }

  pruneJtis(now: number): void {
    this.#pruneJtis.run(now);
  }

  getMeta(key: string): string | null {
    return this.#getMeta.get(key) ?? null;
  }

  setMeta(key: string, value: string): void {
    this.#setMeta.run(key, value);
  }
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
