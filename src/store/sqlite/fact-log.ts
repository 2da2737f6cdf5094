// The fact log (ports/fact-log.ts) on one SQLite connection: `fact_log` maps each log index to the fact's
// seq and CID, `fact_log_nodes` holds the tree's hashes. An append reads, builds and writes in one IMMEDIATE
// transaction (a savepoint inside the caller's), so the log always follows the facts table's seq order.
import type Database from 'better-sqlite3';
import { checkLimit } from '../cursor.ts';
import { StoreInputError } from '../errors.ts';
import { checkCids, checkPositions, factLogAppendProblem, frontierPositions } from '../fact-log-shape.ts';
import type {
  FactLogAppend,
  FactLogAppendState,
  FactLogHead,
  FactLogPosition,
  FactLogStore,
} from '../ports/fact-log.ts';
import { FACT_COLUMNS, type FactRow, factFromRow } from './facts.ts';
import type { Run, Stmt } from './sql.ts';

type Build = (state: FactLogAppendState) => FactLogAppend;

interface HeadRow {
  last_index: number | null;
  last_seq: number | null;
  stored_seq: number | null;
}

export class SqliteFactLog {
  readonly #head: Stmt<[], HeadRow>;
  readonly #pending: Stmt<[number, number], FactRow>;
  readonly #node: Stmt<[number, number], string>;
  readonly #index: Stmt<[string], number>;
  readonly #insertLeaf: Stmt<[number, number, string]>;
  readonly #insertNode: Stmt<[number, number, string]>;
  readonly #append: (limit: number, build: Build) => FactLogHead;

  constructor(db: Database.Database) {
    // One statement: the head and the facts' high-water mark come from one snapshot.
    this.#head = db.prepare(
      `SELECT (SELECT log_index FROM fact_log ORDER BY log_index DESC LIMIT 1) AS last_index,
              (SELECT seq FROM fact_log ORDER BY log_index DESC LIMIT 1) AS last_seq,
              (SELECT max(seq) FROM facts) AS stored_seq`,
    );
    this.#pending = db.prepare(`SELECT ${FACT_COLUMNS} FROM facts WHERE seq > ? ORDER BY seq LIMIT ?`);
    this.#node = db
      .prepare<[number, number], string>('SELECT hash FROM fact_log_nodes WHERE level = ? AND idx = ?')
      .pluck();
    this.#index = db.prepare<[string], number>('SELECT log_index FROM fact_log WHERE cid = ?').pluck();
    this.#insertLeaf = db.prepare('INSERT INTO fact_log (log_index, seq, cid) VALUES (?, ?, ?)');
    this.#insertNode = db.prepare('INSERT INTO fact_log_nodes (level, idx, hash) VALUES (?, ?, ?)');
    const append = db.transaction((limit: number, build: Build) => this.#appendNow(limit, build));
    // IMMEDIATE takes the write lock before the head is read: nothing can slip in between.
    this.#append = (limit, build) => append.immediate(limit, build);
  }

  head(): FactLogHead {
    const row = this.#head.get()!;
    return {
      size: row.last_index === null ? 0 : row.last_index + 1,
      lastSeq: row.last_seq ?? 0,
      storedSeq: row.stored_seq ?? 0,
    };
  }

  append(limit: number, build: Build): FactLogHead {
    checkLimit(limit);
    return this.#append(limit, build);
  }

  #appendNow(limit: number, build: Build): FactLogHead {
    const head = this.head();
    const pending = this.#pending
      .all(head.lastSeq, limit)
      .map((row) => ({ seq: row.seq, record: factFromRow(row) }));
    if (pending.length === 0) return head;
    const frontier = frontierPositions(head.size).map((position) => {
      const hash = this.#node.get(position.level, position.index);
      if (hash === undefined)
        throw new Error(
          `fact log node (${position.level}, ${position.index}) is missing: the log is damaged`,
        );
      return { ...position, hash };
    });
    const state: FactLogAppendState = { size: head.size, lastSeq: head.lastSeq, pending, frontier };
    const built = build(state);
    const problem = factLogAppendProblem(built, state);
    if (problem !== null) throw new StoreInputError('invalid_record', `fact log append: ${problem}`);
    for (const [i, leaf] of built.leaves.entries()) this.#insertLeaf.run(head.size + i, leaf.seq, leaf.cid);
    for (const node of built.nodes) this.#insertNode.run(node.level, node.index, node.hash);
    const last = built.leaves[built.leaves.length - 1]!;
    return { size: head.size + built.leaves.length, lastSeq: last.seq, storedSeq: head.storedSeq };
  }

  nodes(positions: readonly FactLogPosition[]): (string | null)[] {
    checkPositions(positions);
    return positions.map((p) => this.#node.get(p.level, p.index) ?? null);
  }

  indexes(cids: readonly string[]): Map<string, number> {
    checkCids(cids);
    const found = new Map<string, number>();
    for (const cid of cids) {
      const index = this.#index.get(cid);
      if (index !== undefined) found.set(cid, index);
    }
    return found;
  }
}

export function bindFactLogStore(run: Run<SqliteFactLog>): FactLogStore {
  return {
    factLogHead: () => run('read', (o) => o.head()),
    appendFactLog: (limit, build) => run('write', (o) => o.append(limit, build)),
    factLogNodes: (positions) => run('read', (o) => o.nodes(positions)),
    factLogIndexes: (cids) => run('read', (o) => o.indexes(cids)),
  };
}
