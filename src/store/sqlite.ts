// The embedded Store: one SQLite file in WAL mode behind two connections. The writer runs every write and
// every transaction, one at a time through a FIFO queue, so an async `tx(fn)` owns the connection from
// BEGIN IMMEDIATE to COMMIT. The reader (query_only) serves reads outside transactions: WAL gives it the
// last committed snapshot, so it never sees a transaction in progress and never waits for one.
import { AsyncLocalStorage } from 'node:async_hooks';
import Database from 'better-sqlite3';
import { StoreError } from './errors.ts';
import { Mutex } from './mutex.ts';
import { prepareDatabaseFile, restrictDatabaseFiles } from './sqlite-files.ts';
import { migrate } from './sqlite-migrations.ts';
import { SqliteOps } from './sqlite-ops.ts';
import type { Store, StoreOps } from './store.ts';

export { StoreError, StoreInputError } from './errors.ts';

export interface SqliteStoreOptions {
  /** How long a statement waits for a lock held by another process (ms); default 5000. */
  busyTimeoutMs?: number;
  /** Clock for `updatedAt` of peers updated without one; default the system clock. */
  now?: () => Date;
}

type Access = 'read' | 'write';
type Runner = <T>(access: Access, call: (ops: SqliteOps) => T) => Promise<T>;

/** One transaction level: the outermost BEGIN, or a SAVEPOINT for a tx() called inside it. */
interface TxScope {
  active: boolean;
  /** Serializes the nested tx() calls of this level: savepoints must open and close as a stack. */
  children: Mutex;
  depth: number;
  parent: TxScope | null;
}

/** A level is usable only while it and every level around it are still open. */
function live(scope: TxScope | undefined): scope is TxScope {
  for (let level = scope; level; level = level.parent ?? undefined) if (!level.active) return false;
  return scope !== undefined;
}

function openConnection(file: string, busyTimeoutMs: number): Database.Database {
  const db = new Database(file, { timeout: busyTimeoutMs });
  try {
    const mode = db.pragma('journal_mode = WAL', { simple: true });
    if (mode !== 'wal') throw new Error(`the file system refused WAL mode (journal_mode is ${String(mode)})`);
    db.pragma('synchronous = FULL');
    db.pragma('foreign_keys = ON');
    // 16 MiB of page cache: inserts touch eight b-trees (two keyed by random ids), and a replication of
    // 100k facts slows down by a third with the default 2 MiB.
    db.pragma('cache_size = -16000');
    return db;
  } catch (error) {
    db.close();
    throw error;
  }
}

function bindOps(run: Runner): StoreOps {
  return {
    insertFact: (record) => run('write', (o) => o.insertFact(record)),
    getFact: (idOrCid) => run('read', (o) => o.getFact(idOrCid)),
    listFacts: (filter, limit, cursor) => run('read', (o) => o.listFacts(filter, limit, cursor)),
    countFacts: (filter) => run('read', (o) => o.countFacts(filter)),
    federationPage: (query) => run('read', (o) => o.federationPage(query)),
    addPeer: (peer) => run('write', (o) => o.addPeer(peer)),
    getPeer: (id) => run('read', (o) => o.getPeer(id)),
    getPeerByEntityUri: (uri) => run('read', (o) => o.getPeerByEntityUri(uri)),
    listPeers: () => run('read', (o) => o.listPeers()),
    updatePeer: (id, changes) => run('write', (o) => o.updatePeer(id, changes)),
    getPullCursor: (peerId) => run('read', (o) => o.getPullCursor(peerId)),
    setPullCursor: (peerId, cursor) => run('write', (o) => o.setPullCursor(peerId, cursor)),
    rememberJti: (jti, expiresAt) => run('write', (o) => o.rememberJti(jti, expiresAt)),
    pruneJtis: (now) => run('write', (o) => o.pruneJtis(now)),
    getMeta: (key) => run('read', (o) => o.getMeta(key)),
    setMeta: (key, value) => run('write', (o) => o.setMeta(key, value)),
    addApiKey: (key) => run('write', (o) => o.apiKeys.add(key)),
    getApiKey: (id) => run('read', (o) => o.apiKeys.get(id)),
    listApiKeys: () => run('read', (o) => o.apiKeys.list()),
    revokeApiKey: (id, revokedAt) => run('write', (o) => o.apiKeys.revoke(id, revokedAt)),
    appendAudit: (build) => run('write', (o) => o.audit.append(build)),
    listAudit: (filter, limit, cursor) => run('read', (o) => o.audit.list(filter, limit, cursor)),
    auditRange: (afterSeq, limit) => run('read', (o) => o.audit.range(afterSeq, limit)),
    putPeerKey: (key) => run('write', (o) => o.capabilities.putPeerKey(key)),
    listPeerKeys: (peerId) => run('read', (o) => o.capabilities.listPeerKeys(peerId)),
    prunePeerKeys: (before) => run('write', (o) => o.capabilities.prunePeerKeys(before)),
    addCapability: (capability) => run('write', (o) => o.capabilities.addCapability(capability)),
    getCapability: (id) => run('read', (o) => o.capabilities.getCapability(id)),
    addRevocation: (revocation) => run('write', (o) => o.capabilities.addRevocation(revocation)),
    getRevocation: (issuer, id) => run('read', (o) => o.capabilities.getRevocation(issuer, id)),
    revocationPage: (query) => run('read', (o) => o.capabilities.revocationPage(query)),
  };
}

class SqliteStore implements Store {
  readonly #file: string;
  readonly #writer: Database.Database;
  readonly #reader: Database.Database;
  readonly #writes: SqliteOps;
  readonly #reads: SqliteOps;
  readonly #queue = new Mutex();
  /** The transaction level the current async context runs in, if any. */
  readonly #context = new AsyncLocalStorage<TxScope>();
  readonly #ops: StoreOps;
  #closed = false;

  constructor(file: string, writer: Database.Database, reader: Database.Database, now: () => Date) {
    this.#file = file;
    this.#writer = writer;
    this.#reader = reader;
    this.#writes = new SqliteOps(writer, now);
    this.#reads = new SqliteOps(reader, now);
    this.#ops = bindOps((access, call) => this.#run(access, call));
  }

  // Code inside tx(fn) that calls the store itself (not the tx handle) joins the transaction: queueing
  // behind it would deadlock, and reading from the reader would miss the transaction's own writes.
  async #run<T>(access: Access, call: (ops: SqliteOps) => T): Promise<T> {
    this.#assertOpen();
    if (live(this.#context.getStore())) return call(this.#writes);
    if (access === 'read') return call(this.#reads);
    return this.#queue.run(async () => {
      this.#assertOpen();
      return call(this.#writes);
    });
  }

  #assertOpen(): void {
    if (this.#closed) throw new StoreError('store_closed', `the store ${this.#file} is closed`);
  }

  #txOps(scope: TxScope): StoreOps {
    return bindOps(async (_access, call) => {
      if (!live(scope))
        throw new StoreError('tx_finished', 'a transaction handle was used after its transaction ended');
      return call(this.#writes);
    });
  }

  async tx<T>(fn: (tx: StoreOps) => Promise<T>): Promise<T> {
    this.#assertOpen();
    const outer = this.#context.getStore();
    if (live(outer)) return outer.children.run(() => this.#savepoint(outer, fn));
    return this.#queue.run(async () => {
      this.#assertOpen();
      const scope: TxScope = { active: true, children: new Mutex(), depth: 0, parent: null };
      this.#writer.exec('BEGIN IMMEDIATE');
      try {
        const result = await this.#context.run(scope, () => fn(this.#txOps(scope)));
        // Work fn started but did not await (a nested tx, a stray call) must not run after COMMIT.
        scope.active = false;
        this.#writer.exec('COMMIT');
        return result;
      } catch (error) {
        // SQLite may already have rolled back by itself (e.g. on SQLITE_FULL).
        if (this.#writer.inTransaction) this.#writer.exec('ROLLBACK');
        throw error;
      } finally {
        scope.active = false;
      }
    });
  }

  /** tx() inside tx(): a savepoint, so a nested failure the caller catches undoes only its own writes. */
  async #savepoint<T>(outer: TxScope, fn: (tx: StoreOps) => Promise<T>): Promise<T> {
    if (!live(outer))
      throw new StoreError('tx_finished', 'a nested transaction started after its parent ended');
    const scope: TxScope = { active: true, children: new Mutex(), depth: outer.depth + 1, parent: outer };
    const name = `tx_${scope.depth}`;
    this.#writer.exec(`SAVEPOINT ${name}`);
    try {
      const result = await this.#context.run(scope, () => fn(this.#txOps(scope)));
      this.#writer.exec(`RELEASE ${name}`);
      return result;
    } catch (error) {
      if (this.#writer.inTransaction) {
        this.#writer.exec(`ROLLBACK TO ${name}`);
        this.#writer.exec(`RELEASE ${name}`);
      }
      throw error;
    } finally {
      scope.active = false;
    }
  }

  async writable(): Promise<boolean> {
    if (this.#closed) return false;
    try {
      // A real, durable write: it fails on a read-only or full file system, not just on a lock.
      await this.setMeta('readyz_probe', new Date().toISOString());
      return true;
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    await this.#queue.run(async () => {
      if (this.#closed) return;
      this.#closed = true;
      this.#reader.close();
      try {
        this.#writer.pragma('optimize');
      } finally {
        this.#writer.close(); // the last connection to close checkpoints the WAL and removes it
      }
    });
  }

  insertFact: StoreOps['insertFact'] = (record) => this.#ops.insertFact(record);
  getFact: StoreOps['getFact'] = (idOrCid) => this.#ops.getFact(idOrCid);
  listFacts: StoreOps['listFacts'] = (filter, limit, cursor) => this.#ops.listFacts(filter, limit, cursor);
  countFacts: StoreOps['countFacts'] = (filter) => this.#ops.countFacts(filter);
  federationPage: StoreOps['federationPage'] = (query) => this.#ops.federationPage(query);
  addPeer: StoreOps['addPeer'] = (peer) => this.#ops.addPeer(peer);
  getPeer: StoreOps['getPeer'] = (id) => this.#ops.getPeer(id);
  getPeerByEntityUri: StoreOps['getPeerByEntityUri'] = (uri) => this.#ops.getPeerByEntityUri(uri);
  listPeers: StoreOps['listPeers'] = () => this.#ops.listPeers();
  updatePeer: StoreOps['updatePeer'] = (id, changes) => this.#ops.updatePeer(id, changes);
  getPullCursor: StoreOps['getPullCursor'] = (peerId) => this.#ops.getPullCursor(peerId);
  setPullCursor: StoreOps['setPullCursor'] = (peerId, cursor) => this.#ops.setPullCursor(peerId, cursor);
  rememberJti: StoreOps['rememberJti'] = (jti, expiresAt) => this.#ops.rememberJti(jti, expiresAt);
  pruneJtis: StoreOps['pruneJtis'] = (now) => this.#ops.pruneJtis(now);
  getMeta: StoreOps['getMeta'] = (key) => this.#ops.getMeta(key);
  setMeta: StoreOps['setMeta'] = (key, value) => this.#ops.setMeta(key, value);
  addApiKey: StoreOps['addApiKey'] = (key) => this.#ops.addApiKey(key);
  getApiKey: StoreOps['getApiKey'] = (id) => this.#ops.getApiKey(id);
  listApiKeys: StoreOps['listApiKeys'] = () => this.#ops.listApiKeys();
  revokeApiKey: StoreOps['revokeApiKey'] = (id, revokedAt) => this.#ops.revokeApiKey(id, revokedAt);
  appendAudit: StoreOps['appendAudit'] = (build) => this.#ops.appendAudit(build);
  listAudit: StoreOps['listAudit'] = (filter, limit, cursor) => this.#ops.listAudit(filter, limit, cursor);
  auditRange: StoreOps['auditRange'] = (afterSeq, limit) => this.#ops.auditRange(afterSeq, limit);
  putPeerKey: StoreOps['putPeerKey'] = (key) => this.#ops.putPeerKey(key);
  listPeerKeys: StoreOps['listPeerKeys'] = (peerId) => this.#ops.listPeerKeys(peerId);
  prunePeerKeys: StoreOps['prunePeerKeys'] = (before) => this.#ops.prunePeerKeys(before);
  addCapability: StoreOps['addCapability'] = (capability) => this.#ops.addCapability(capability);
  getCapability: StoreOps['getCapability'] = (id) => this.#ops.getCapability(id);
  addRevocation: StoreOps['addRevocation'] = (revocation) => this.#ops.addRevocation(revocation);
  getRevocation: StoreOps['getRevocation'] = (issuer, id) => this.#ops.getRevocation(issuer, id);
  revocationPage: StoreOps['revocationPage'] = (query) => this.#ops.revocationPage(query);
}

/**
 * Opens (creating if missing) the node database at `file`: directory 0700, file and its WAL companions
 * 0600, WAL + synchronous=FULL + foreign keys, schema migrated. A database written by a newer release
 * is refused with StoreError `schema_too_new`.
 */
export async function openSqliteStore(file: string, options: SqliteStoreOptions = {}): Promise<Store> {
  if (file === '' || file === ':memory:' || file.startsWith('file:'))
    throw new TypeError(`openSqliteStore needs a file path (got ${JSON.stringify(file)})`);
  const busyTimeoutMs = options.busyTimeoutMs ?? 5000;
  prepareDatabaseFile(file);
  let writer: Database.Database | undefined;
  let reader: Database.Database | undefined;
  try {
    writer = openConnection(file, busyTimeoutMs);
    migrate(writer, file);
    reader = openConnection(file, busyTimeoutMs);
    reader.pragma('query_only = ON');
    restrictDatabaseFiles(file);
    return new SqliteStore(file, writer, reader, options.now ?? (() => new Date()));
  } catch (error) {
    reader?.close();
    writer?.close();
    if (error instanceof StoreError) throw error;
    throw new StoreError(
      'store_open_failed',
      `cannot open the database ${file}: ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  }
}
