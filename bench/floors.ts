// The work no implementation of a path can skip, costed on this machine in the same run: Ed25519 origin
// signatures (OpenSSL, native), the CID (canonical JSON + SHA-256), SQLite's durable insert of one fact
// and its read back. Beside each target of issue 14 it prints the floor those costs set per core, so a
// target below the floor is shown to be out of reach by measurement, not by assertion.
import { generateKeyPairSync } from 'node:crypto';
import { closeSync, fdatasyncSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { factCid } from '../src/node/features/facts/cid.ts';
import { factId } from '../src/node/features/facts/fact-id.ts';
import { HybridClock } from '../src/node/features/facts/hlc.ts';
import { originSignatureValid, signOrigin } from '../src/node/features/facts/origin-signature.ts';
import type { NodeKey } from '../src/node/features/identity/node-key.ts';
import type { FactContent, FactRecord } from '../src/store/ports/facts.ts';
import { FACT_COLUMNS, factParams } from '../src/store/sqlite/facts.ts';
import { openSqliteStore } from '../src/store/sqlite/open.ts';
import { median, percentile } from './paths.ts';

/** CPU microseconds per operation of each unavoidable step (medians of `rounds` timed loops). */
export interface UnitCosts {
  sign: number;
  verify: number;
  cid: number;
  /** The fact's prepared INSERT (row and indexes) and its share of a 256-fact commit (CPU; not the fsync wait). */
  insert: number;
  /** The 10 rows of one entity read by the entity index as bare arrays (no objects, no JSON parse). */
  readPage: number;
  /** The page's `total` (the API answers it): a count of the entity's facts on the same index. */
  count: number;
  /** The 10 rows written as the answer's JSON, stored JSON texts embedded as they are (the least serializing). */
  pageJson: number;
  /** Wall ms of a 4 KiB append + fdatasync in the nodes' temp directory, sorted: what one durable commit waits for. */
  fsyncMs: number[];
}

/** `count` appends of 4 KiB, each followed by fdatasync (a WAL commit's wait), in wall ms, sorted. */
function fsyncLatencies(file: string, count: number): number[] {
  const fd = openSync(file, 'w');
  const block = Buffer.alloc(4096, 1);
  const out: number[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const start = performance.now();
      writeSync(fd, block);
      fdatasyncSync(fd);
      out.push(performance.now() - start);
    }
  } finally {
    closeSync(fd);
  }
  return out.sort((a, b) => a - b);
}

const cpuMicros = (fn: () => void, n: number): number => {
  const start = process.cpuUsage();
  fn();
  const used = process.cpuUsage(start);
  return (used.user + used.system) / n;
};

function content(i: number): FactContent {
  return {
    entity: `floor:entity/${Math.floor(i / 10)}`,
    relation: 'floor:seq',
    value: { type: 'number', v: i },
    source: 'floor',
    confidence: 1,
    scope: 'company',
  };
}

/** Measures the unit costs in this process (the load generator's core: same CPU model as the servers'). */
export async function measureUnitCosts(dir: string, facts: number, rounds = 3): Promise<UnitCosts> {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const key = { privateKey, publicKey, keyId: 'floor' } as NodeKey;
  const hlc = new HybridClock(() => Date.now());
  const now = new Date().toISOString();
  const records: FactRecord[] = [];
  for (let i = 0; i < facts; i++) {
    const cid = factCid(content(i));
    const signed = { id: factId(cid), cid, hlc: hlc.now(), origin_node_id: 'https://floor.test' };
    records.push({
      ...content(i),
      ...signed,
      timestamp: now,
      valid_until: null,
      attested: null,
      received_from: 'https://peer.test',
      origin_sig: signOrigin(signed, key),
    });
  }
  const n = Math.min(facts, 2000);
  const costs: Record<Exclude<keyof UnitCosts, 'fsyncMs'>, number[]> = {
    sign: [],
    verify: [],
    cid: [],
    insert: [],
    readPage: [],
    count: [],
    pageJson: [],
  };
  const sample = records.slice(0, n);
  /** CPU µs per record of `step` over the sample. */
  const each = (step: (record: FactRecord) => unknown) =>
    cpuMicros(() => {
      for (const record of sample) step(record);
    }, n);
  for (let r = 0; r < rounds; r++) {
    costs.sign.push(each((f) => signOrigin(f, key)));
    costs.verify.push(each((f) => originSignatureValid(f, f.origin_sig!, publicKey)));
    costs.cid.push(each((f) => factCid(f)));
  }
  // The node's schema (opened and migrated by the store), then the bare prepared INSERT the store runs, in
  // transactions of 256 on a connection set up like the node's (WAL, synchronous=FULL): no store plumbing.
  const file = join(dir, 'floor.db');
  await (await openSqliteStore(file)).close();
  const writer = new Database(file);
  try {
    writer.pragma('journal_mode = WAL');
    writer.pragma('synchronous = FULL');
    writer.pragma('cache_size = -16000');
    const columns = FACT_COLUMNS.replace('seq, ', '');
    const insert = writer.prepare(
      `INSERT INTO facts (${columns}) VALUES (${columns
        .split(', ')
        .map(() => '?')
        .join(', ')}) ON CONFLICT DO NOTHING`,
    );
    const group = writer.transaction((batch: FactRecord[]) => {
      for (const record of batch) insert.run(...factParams(record));
    });
    const per = Math.ceil(facts / rounds);
    for (let r = 0; r < rounds; r++) {
      const batch = records.slice(r * per, (r + 1) * per);
      costs.insert.push(
        cpuMicros(() => {
          for (let b = 0; b < batch.length; b += 256) group(batch.slice(b, b + 256));
        }, batch.length),
      );
    }
  } finally {
    writer.close();
  }
  const db = new Database(file, { readonly: true });
  try {
    const page = db
      .prepare(`SELECT ${FACT_COLUMNS} FROM facts WHERE entity = ? AND seq > 0 ORDER BY seq LIMIT 11`)
      .raw();
    const count = db.prepare('SELECT count(*) FROM facts WHERE entity = ?').pluck();
    const entities = Math.floor(facts / 10);
    const pages = Array.from({ length: 50 }, (_, i) => page.all(`floor:entity/${i}`) as unknown[][]);
    let bytes = 0;
    for (let r = 0; r < rounds; r++) {
      costs.readPage.push(
        cpuMicros(() => {
          for (let i = 0; i < n; i++) page.all(`floor:entity/${i % entities}`);
        }, n),
      );
      costs.count.push(
        cpuMicros(() => {
          for (let i = 0; i < n; i++) count.get(`floor:entity/${i % entities}`);
        }, n),
      );
      costs.pageJson.push(
        cpuMicros(() => {
          for (let i = 0; i < n; i++) bytes += pageJson(pages[i % pages.length]!, 10).length;
        }, n),
      );
    }
    if (bytes === 0) throw new Error('no page was written'); // keeps the writes from being optimised away
  } finally {
    db.close();
  }
  return {
    fsyncMs: fsyncLatencies(join(dir, 'fsync.probe'), 200),
    sign: median(costs.sign),
    verify: median(costs.verify),
    cid: median(costs.cid),
    insert: median(costs.insert),
    readPage: median(costs.readPage),
    count: median(costs.count),
    pageJson: median(costs.pageJson),
  };
}

/** Positions of the columns in a raw row of FACT_COLUMNS. */
const COLUMN: Record<string, number> = Object.fromEntries(
  FACT_COLUMNS.split(', ').map((name, at) => [name, at]),
);

/**
 * The least work that turns raw fact rows into the list answer's JSON: every string escaped once, the stored
 * `value` and `attested` JSON texts copied in as they are (nothing parsed).
 */
function pageJson(rows: unknown[][], total: number): string {
  const q = JSON.stringify;
  const c = COLUMN;
  const facts = rows.map((r) => {
    const kid = r[c.origin_kid!] as string | null;
    const sig = r[c.origin_sig!] as string | null;
    return `{"id":${q(r[c.id!])},"entity":${q(r[c.entity!])},"relation":${q(r[c.relation!])},"value":${r[c.value!]},"source":${q(r[c.source!])},"confidence":${r[c.confidence!]},"scope":${q(r[c.scope!])},"timestamp":${q(r[c.timestamp!])},"valid_until":${q(r[c.valid_until!])},"hlc":${q(r[c.hlc!])},"cid":${q(r[c.cid!])},"attested":${r[c.attested!] ?? 'null'},"received_from":${q(r[c.received_from!])},"origin_node_id":${q(r[c.origin_node_id!])},"origin_sig":${kid === null || sig === null ? 'null' : `{"kid":${q(kid)},"sig":${q(sig)}}`}}`;
  });
  return `{"facts":[${facts.join(',')}],"total":${total},"cursor":null}`;
}

/** Reference per-request CPU costs of this run (µs), when the API rows ran; handshakes per CPU-second. */
export interface ReferenceCosts {
  /**
   * Raw Node's handshakes per CPU-second, and two references as ratios to it (round by round, as the table's):
   * raw Node that also reads the client's leaf, and the same on a bare `https` server.
   */
  handshakes?: { raw: number; identify: number; https: number };
  post?: number;
  get?: number;
  /** Bare Fastify answering the same GET (bench/bare-fastify-server.ts): the node's framework, nothing else. */
  fastifyGet?: number;
}

export interface FloorRow {
  path: string;
  target: string;
  work: string;
  /** The best rate per CPU-second the unavoidable work leaves. */
  floor: number;
  /** The rate per CPU-second the target needs. */
  needed: number;
}

const us = (n: number) => `${n.toFixed(0)} µs`;

/** One row per path whose target a floor can judge (wake latency has none). */
export function floorRows(unit: UnitCosts, ref: ReferenceCosts): FloorRow[] {
  const rows: FloorRow[] = [];
  if (ref.handshakes !== undefined) {
    const { raw, identify, https } = ref.handshakes;
    const target = `≥ 0.95× raw Node (${Math.round(0.95 * raw)}/CPU-s)`;
    rows.push({
      path: 'mTLS handshakes',
      target,
      work: `raw Node's handshake + reading the client's leaf certificate (\`getPeerCertificate()\`), measured: ${identify.toFixed(2)}× raw Node, round by round`,
      floor: identify * raw,
      needed: 0.95 * raw,
    });
    // The federation listener serves HTTP: a bare node:https server's per-connection set-up, measured too.
    rows.push({
      path: 'mTLS handshakes on an HTTPS listener',
      target,
      work: `the same on a bare \`node:https\` server (an HTTP parser and its timers per connection), measured: ${https.toFixed(2)}× raw Node, round by round`,
      floor: https * raw,
      needed: 0.95 * raw,
    });
  }
  if (ref.post !== undefined) {
    const work = ref.post + unit.sign + unit.cid + unit.insert;
    rows.push({
      path: '`POST /v1/facts`',
      target: `≥ 10,000 writes/s on one core and ≥ 0.5× raw (≤ ${us(Math.min(100, 2 * ref.post))} per write)`,
      work: `raw Node POST ${us(ref.post)} + Ed25519 sign ${us(unit.sign)} + CID ${us(unit.cid)} + SQLite insert ${us(unit.insert)}`,
      floor: 1e6 / work,
      needed: Math.max(10_000, 1e6 / (2 * ref.post)),
    });
  }
  if (ref.get !== undefined) {
    const target = `≥ 0.5× raw (≤ ${us(2 * ref.get)} per read)`;
    const needed = 1e6 / (2 * ref.get);
    const page = unit.readPage + unit.count + unit.pageJson;
    const pageWork = `SQLite read of the 10 rows ${us(unit.readPage)} + their count ${us(unit.count)} + the answer's JSON ${us(unit.pageJson)}`;
    rows.push({
      path: '`GET /v1/facts?entity=` (10 facts)',
      target,
      work: `raw Node GET ${us(ref.get)} + ${pageWork}`,
      floor: 1e6 / (ref.get + page),
      needed,
    });
    // The same with the framework the node is built on (DESIGN.md: Fastify 5), whose own cost is measured too.
    if (ref.fastifyGet !== undefined)
      rows.push({
        path: '`GET /v1/facts?entity=` on Fastify',
        target,
        work: `bare Fastify GET of the same bytes ${us(ref.fastifyGet)} + the same page work`,
        floor: 1e6 / (ref.fastifyGet + page),
        needed,
      });
  }
  const replicated = unit.verify + unit.cid + unit.insert;
  rows.push({
    path: 'replication A→B',
    target: '≥ 50,000 facts/s (≤ 20 µs per fact)',
    work: `Ed25519 verify ${us(unit.verify)} + CID ${us(unit.cid)} + SQLite insert ${us(unit.insert)} (receiver only)`,
    floor: 1e6 / replicated,
    needed: 50_000,
  });
  rows.push({
    path: '1M facts A→B',
    target: '≤ 30 s (33,333 facts/s; with both cores ≤ 60 µs of CPU per fact)',
    work: `as replication: ${us(replicated)} per fact, so ≥ ${(replicated / 2).toFixed(0)} s for 1M facts on both cores`,
    floor: 1e6 / replicated,
    needed: 1e6 / 30 / 2,
  });
  return rows;
}

export function formatFloors(unit: UnitCosts, rows: FloorRow[]): string {
  const fsync = `p50 ${percentile(unit.fsyncMs, 0.5).toFixed(1)} ms, p99 ${percentile(unit.fsyncMs, 0.99).toFixed(1)} ms`;
  const lines = [
    `durable commit on this disk (4 KiB + fdatasync, ${unit.fsyncMs.length} samples): ${fsync}; wake-to-visible waits for three in a row (the wake's token id on B, the pull's token id on A, the page on B)`,
    `unavoidable work on this machine (CPU per operation, medians): Ed25519 sign ${unit.sign.toFixed(1)} µs, verify ${unit.verify.toFixed(1)} µs; CID ${unit.cid.toFixed(1)} µs; SQLite insert of one fact ${unit.insert.toFixed(1)} µs; read of a 10-fact page ${unit.readPage.toFixed(1)} µs, its count ${unit.count.toFixed(1)} µs, its JSON ${unit.pageJson.toFixed(1)} µs`,
    '',
    '| path | target | unavoidable work per operation | best possible on one core | target reachable |',
    '|---|---|---|---|---|',
  ];
  for (const row of rows)
    lines.push(
      `| ${row.path} | ${row.target} | ${row.work} | ${Math.round(row.floor).toLocaleString('en-US')}/CPU-s | ${row.floor >= row.needed ? 'yes' : `no (needs ${Math.round(row.needed).toLocaleString('en-US')}/CPU-s)`} |`,
    );
  return lines.join('\n');
}
