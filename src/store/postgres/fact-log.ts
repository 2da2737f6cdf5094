// The fact log (ports/fact-log.ts) on PostgreSQL, as on SQLite: `fact_log` maps each log index to the
// fact's seq and CID, `fact_log_nodes` holds the tree's hashes. An append runs in a transaction holding the
// store's write lock (access `serial`): facts are inserted under the same lock, so every seq up to the
// highest one it reads is committed, and replicas appending at once take turns and extend one log.
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
import { FACT_COLUMNS, type FactRow, factFromRow } from '../sqlite/facts.ts';
import { type Run, type Sql, toNumber, unmatchable } from './sql.ts';

type Build = (state: FactLogAppendState) => FactLogAppend;
type PgFactRow = Omit<FactRow, 'seq'> & { seq: string };

const HEAD = `SELECT (SELECT log_index FROM fact_log ORDER BY log_index DESC LIMIT 1) AS last_index,
                     (SELECT seq FROM fact_log ORDER BY log_index DESC LIMIT 1) AS last_seq,
                     (SELECT max(seq) FROM facts) AS stored_seq`;

/** The hashes at the positions given as two arrays, with each position's place in the request. */
const NODES = `SELECT p.i, n.hash
  FROM unnest($1::integer[], $2::bigint[]) WITH ORDINALITY AS p (level, idx, i)
  JOIN fact_log_nodes n ON n.level = p.level AND n.idx = p.idx`;

export class PgFactLog {
  constructor(private readonly db: Sql) {}

  async head(): Promise<FactLogHead> {
    const { rows } = await this.db.query<{
      last_index: string | null;
      last_seq: string | null;
      stored_seq: string | null;
    }>(HEAD);
    const row = rows[0]!;
    return {
      size: row.last_index === null ? 0 : toNumber(row.last_index) + 1,
      lastSeq: row.last_seq === null ? 0 : toNumber(row.last_seq),
      storedSeq: row.stored_seq === null ? 0 : toNumber(row.stored_seq),
    };
  }

  /** Runs inside the write-locked transaction bindFactLogStore gives it. */
  async append(limit: number, build: Build): Promise<FactLogHead> {
    checkLimit(limit);
    const head = await this.head();
    const { rows } = await this.db.query<PgFactRow>(
      `SELECT ${FACT_COLUMNS} FROM facts WHERE seq > $1 ORDER BY seq LIMIT $2`,
      [head.lastSeq, limit],
    );
    if (rows.length === 0) return head;
    const pending = rows.map((row) => {
      const seq = toNumber(row.seq);
      return { seq, record: factFromRow({ ...row, seq }) };
    });
    const positions = frontierPositions(head.size);
    const hashes = await this.nodes(positions);
    const frontier = positions.map((position, i) => {
      const hash = hashes[i];
      if (hash === null || hash === undefined)
        throw new Error(
          `fact log node (${position.level}, ${position.index}) is missing: the log is damaged`,
        );
      return { ...position, hash };
    });
    const state: FactLogAppendState = { size: head.size, lastSeq: head.lastSeq, pending, frontier };
    const built = build(state);
    const problem = factLogAppendProblem(built, state);
    if (problem !== null) throw new StoreInputError('invalid_record', `fact log append: ${problem}`);
    await this.db.query(
      `INSERT INTO fact_log (log_index, seq, cid)
       SELECT $1::bigint + i - 1, seq, cid FROM unnest($2::bigint[], $3::text[]) WITH ORDINALITY AS l (seq, cid, i)`,
      [head.size, built.leaves.map((leaf) => leaf.seq), built.leaves.map((leaf) => leaf.cid)],
    );
    await this.db.query(
      'INSERT INTO fact_log_nodes (level, idx, hash) SELECT * FROM unnest($1::integer[], $2::bigint[], $3::text[])',
      [built.nodes.map((n) => n.level), built.nodes.map((n) => n.index), built.nodes.map((n) => n.hash)],
    );
    const last = built.leaves[built.leaves.length - 1]!;
    return { size: head.size + built.leaves.length, lastSeq: last.seq, storedSeq: head.storedSeq };
  }

  async nodes(positions: readonly FactLogPosition[]): Promise<(string | null)[]> {
    checkPositions(positions);
    const found: (string | null)[] = positions.map(() => null);
    if (positions.length === 0) return found;
    const { rows } = await this.db.query<{ i: string; hash: string }>(NODES, [
      positions.map((p) => p.level),
      positions.map((p) => p.index),
    ]);
    for (const row of rows) found[toNumber(row.i) - 1] = row.hash;
    return found;
  }

  async indexes(cids: readonly string[]): Promise<Map<string, number>> {
    checkCids(cids);
    const found = new Map<string, number>();
    const wanted = cids.filter((cid) => !unmatchable(cid));
    if (wanted.length === 0) return found;
    const { rows } = await this.db.query<{ cid: string; log_index: string }>(
      'SELECT cid, log_index FROM fact_log WHERE cid = ANY ($1::text[])',
      [wanted],
    );
    for (const row of rows) found.set(row.cid, toNumber(row.log_index));
    return found;
  }
}

/** The FactLogStore port over `run`, with the access each call needs (sql.ts Access). */
export function bindFactLogStore(run: Run<PgFactLog>): FactLogStore {
  return {
    factLogHead: () => run('read', (o) => o.head()),
    appendFactLog: (limit, build) => run('serial', (o) => o.append(limit, build)),
    factLogNodes: (positions) => run('read', (o) => o.nodes(positions)),
    factLogIndexes: (cids) => run('read', (o) => o.indexes(cids)),
  };
}
