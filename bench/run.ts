// `npm run bench` (full) and `npm run bench -- --quick` (about a minute; CI runs it): the table of issue 14,
// Tessera beside its reference in the same run, each figure per server CPU-second. Servers are pinned to
// core 0 and this process (the load generator) to core 1 when `taskset` exists; rounds alternate Tessera and
// the references, each round starting one server later, and the medians are printed (handshakes load every
// server at once, connection by connection in turn, and their ratios are round by round: the median of each
// round's ratio); the JSON of every round goes to bench/results/<timestamp>.json.
// Every process started is stopped on exit, error or Ctrl-C (bench/procs.ts); every load loop is bounded in
// count and time (bench/load.ts).
//
// BENCH_SECTIONS (comma-separated) runs some rows only: handshakes, writes, reads, replication, million,
// latency, floors (the unavoidable work of each path costed here, beside its target: bench/floors.ts),
// grpc (federation over a gRPC stream beside HTTPS: replication facts/s, visible-after-the-201 p50/p99;
// after the table, full mode by default) and scale-out (SQLite vs PostgreSQL with 1 and 2 replicas; full
// mode only, bench/scale-out.ts).
// Counts: BENCH_ROUNDS, BENCH_HANDSHAKE_ROUNDS, BENCH_HANDSHAKES (per round), BENCH_WRITES, BENCH_READS,
// BENCH_CONNECTIONS, BENCH_REPLICATED, BENCH_MILLION, BENCH_LATENCY_SAMPLES, BENCH_SECONDS (time bound of
// one load loop). BENCH_PROFILE_DIR: CPU profiles of every `tessera serve` (see docs/performance.md).
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import type { NodeProcess } from '../test/support/node-process.ts';
import { createTestCa, type TestCa } from '../test/support/pki.ts';
import { startPrivatePostgres } from '../test/support/private-postgres.ts';
import { until } from '../test/support/reload.ts';
import { floorRows, formatFloors, measureUnitCosts } from './floors.ts';
import {
  type ApiFigures,
  apiRounds,
  type Counts,
  type HandshakeFigures,
  handshakeRounds,
  median,
  pairedRatio,
  percentile,
  type Replication,
  replicate,
  type Sample,
  startServerNode,
  wakeLatency,
} from './paths.ts';
import { installCleanup, killAll, pinLoad, pinning } from './procs.ts';
import { formatFigures, replicationFigures, writeFigures } from './scale-out.ts';
import { formatTable, int, type Row, times } from './table.ts';

const quick = process.argv.includes('--quick');
const env = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const seconds = env('BENCH_SECONDS', quick ? 8 : 30);
const counts: Counts = {
  rounds: env('BENCH_ROUNDS', quick ? 1 : 3),
  handshakeRounds: env('BENCH_HANDSHAKE_ROUNDS', quick ? 2 : 20),
  handshakes: { count: env('BENCH_HANDSHAKES', quick ? 300 : 600), seconds }, // per server and round
  writes: { count: env('BENCH_WRITES', quick ? 1500 : 20_000), seconds },
  reads: { count: env('BENCH_READS', quick ? 3000 : 40_000), seconds },
  connections: env('BENCH_CONNECTIONS', 50),
  replicated: env('BENCH_REPLICATED', quick ? 2000 : 50_000),
  million: env('BENCH_MILLION', 1_000_000),
  latencySamples: env('BENCH_LATENCY_SAMPLES', quick ? 20 : 200),
};
const TABLE_SECTIONS = ['handshakes', 'writes', 'reads', 'replication', 'million', 'latency', 'floors'];
const SECTIONS = new Set(
  (
    process.env.BENCH_SECTIONS ??
    (quick ? TABLE_SECTIONS.filter((s) => s !== 'million') : [...TABLE_SECTIONS, 'grpc', 'scale-out']).join(
      ',',
    )
  )
    .split(',')
    .map((s) => s.trim()),
);
const SCALE_WRITES = env('BENCH_SCALE_WRITES', 3000);
const SCALE_CONCURRENCY = env('BENCH_SCALE_CONCURRENCY', 32);
const SCALE_REPLICATED = env('BENCH_SCALE_REPLICATED', 10_000);

/** p50 and p99 of sorted latencies (ms). */
const line = (sorted: number[]) =>
  `p50 ${percentile(sorted, 0.5).toFixed(0)} ms, p99 ${percentile(sorted, 0.99).toFixed(0)} ms`;
const perCpu = (samples: Sample[]) => median(samples.map((s) => s.perCpu));
const perWall = (samples: Sample[]) => median(samples.map((s) => s.perWall));
const skipped = (path: string, reference: string, target: string, why: string): Row => ({
  path,
  reference,
  tessera: `not run (${why})`,
  ratio: '—',
  target,
});

const rows: Row[] = [];
const t0 = performance.now();
/** Progress on stderr (the table alone goes to stdout). */
const step = (what: string) =>
  console.error(`bench: +${((performance.now() - t0) / 1000).toFixed(0)} s ${what}`);
const results: Record<string, unknown> = {};

async function apiAndHandshakes(ca: TestCa, root: string): Promise<void> {
  const wants = {
    handshakes: SECTIONS.has('handshakes'),
    writes: SECTIONS.has('writes'),
    reads: SECTIONS.has('reads'),
  };
  if (!wants.handshakes && !wants.writes && !wants.reads) return;
  const { node, client } = await startServerNode(ca, root);
  try {
    if (wants.handshakes) {
      step('handshakes');
      const hs = await handshakeRounds(node, client, root, counts);
      results.handshakes = hs;
      const [t, r, id, https] = [
        perCpu(hs.tessera),
        perCpu(hs.raw),
        perCpu(hs.rawIdentify),
        perCpu(hs.httpsIdentify),
      ];
      // Ratios are paired: the median of round-by-round ratios (pairedRatio).
      const vs = (reference: Sample[]) => times(pairedRatio(hs.tessera, reference));
      rows.push({
        path: 'new mTLS 1.3 handshakes (Ed25519, no resumption), federation listener',
        reference: `raw Node \`tls\` ${int(r)}/CPU-s (reading the client's leaf too: ${int(id)}; bare \`https\` reading it: ${int(https)}${hs.nginx ? `; nginx ${int(perCpu(hs.nginx))}` : '; nginx not installed'})`,
        tessera: `${int(t)}/CPU-s`,
        ratio: `${vs(hs.raw)} (${vs(hs.rawIdentify)} leaf-reading \`tls\`, ${vs(hs.httpsIdentify)} leaf-reading \`https\`${hs.nginx ? `, ${vs(hs.nginx)} nginx` : ''}); round by round, ${counts.handshakeRounds} rounds`,
        target: '≥ 0.95× raw Node',
      });
    }
    if (wants.writes || wants.reads) {
      step('API rows');
      const api = await apiRounds(node, client, root, counts, wants);
      results.api = api;
      if (wants.writes) {
        const { tessera: t, raw: r, fastify: f } = api.writes;
        rows.push({
          path: `\`POST /v1/facts\`, keep-alive mTLS, ${counts.connections} connections`,
          reference: `raw Node \`https\` POST of the same body ${int(perCpu(r))}/CPU-s (bare Fastify ${int(perCpu(f))})`,
          tessera: `${int(perCpu(t))}/CPU-s (${int(perWall(t))} writes/s)`,
          ratio: `${times(perCpu(t) / perCpu(r))} (${times(perCpu(t) / perCpu(f))} bare Fastify)`,
          target: '≥ 0.5×, and ≥ 10,000 writes/s on one core',
        });
      }
      if (wants.reads) {
        const { tessera: t, raw: r, fastify: f, bodyBytes } = api.reads;
        rows.push({
          path: '`GET /v1/facts?entity=`',
          reference: `raw Node \`https\` GET (${bodyBytes}-byte JSON) ${int(perCpu(r))}/CPU-s (bare Fastify ${int(perCpu(f))})`,
          tessera: `${int(perCpu(t))}/CPU-s (${int(perWall(t))}/s)`,
          ratio: `${times(perCpu(t) / perCpu(r))} (${times(perCpu(t) / perCpu(f))} bare Fastify)`,
          target: '≥ 0.5×',
        });
      }
    }
  } finally {
    await node.stop();
  }
}

async function replication(ca: TestCa, root: string): Promise<void> {
  if (!SECTIONS.has('replication')) return;
  const mtls: Replication[] = [];
  const insecure: Replication[] = [];
  for (let i = 0; i < counts.rounds; i++) {
    step(`replication round ${i + 1}/${counts.rounds}`);
    mtls.push(await replicate(ca, root, `rep${i}-mtls`, counts.replicated, false, seconds * 20));
    insecure.push(await replicate(ca, root, `rep${i}-insecure`, counts.replicated, true, seconds * 20));
  }
  results.replication = { mtls, insecure };
  const [wm, wi, cm, ci] = [perWall(mtls), perWall(insecure), perCpu(mtls), perCpu(insecure)];
  rows.push({
    path: `replication A→B over mTLS, ${int(counts.replicated)} facts`,
    reference: `same code, insecure mode: ${int(wi)}/s, ${int(ci)}/CPU-s`,
    tessera: `${int(wm)}/s, ${int(cm)}/CPU-s`,
    ratio: `${times(wm / wi)} wall, ${times(cm / ci)} per CPU-s`,
    target: '≥ 0.9× both, and ≥ 50,000 facts/s',
  });
}

async function million(ca: TestCa, root: string): Promise<void> {
  const path = `${int(counts.million)} facts A→B`;
  const target = '≤ 30 s, no loss, no duplicate';
  if (!SECTIONS.has('million')) {
    if (quick) rows.push(skipped(path, '—', target, 'quick mode'));
    return;
  }
  step('1M row');
  const run = await replicate(ca, root, 'million', counts.million, false, 1800, true);
  results.million = run;
  const disk = run.onDisk!;
  const loss = counts.million - disk.distinctCids;
  const dup = disk.rows - disk.distinctCids;
  rows.push({
    path,
    reference: '—',
    tessera: `${run.seconds.toFixed(1)} s (${int(run.perWall)}/s, ${int(run.perCpu)}/CPU-s), ${loss === 0 ? 'no loss' : `${loss} lost`}, ${dup === 0 ? 'no duplicate' : `${dup} duplicates`}`,
    ratio: '—',
    target,
  });
}

async function latency(ca: TestCa, root: string): Promise<void> {
  if (!SECTIONS.has('latency')) return;
  step('wake latency');
  const { write, visible } = await wakeLatency(ca, root, counts.latencySamples, seconds * 10);
  results.latency = { write, visible };
  rows.push({
    path: `wake-to-visible latency, idle nodes (${visible.length} writes)`,
    reference: `the write itself (request to 201 on A): ${line(write)}`,
    tessera: line(visible),
    ratio: '—',
    target: 'p99 ≤ 50 ms',
  });
}

/** The floors: what the unavoidable work of each path costs here, beside its target (bench/floors.ts). */
async function floors(root: string): Promise<void> {
  if (!SECTIONS.has('floors')) return;
  step('floors');
  const unit = await measureUnitCosts(root, quick ? 6000 : 30_000);
  const api = results.api as ApiFigures | undefined;
  const micros = (samples: Sample[] | undefined) =>
    samples && samples.length > 0 ? 1e6 / perCpu(samples) : undefined;
  const hs = results.handshakes as HandshakeFigures | undefined;
  const ref = {
    handshakes: hs
      ? {
          raw: perCpu(hs.raw),
          identify: pairedRatio(hs.rawIdentify, hs.raw),
          https: pairedRatio(hs.httpsIdentify, hs.raw),
        }
      : undefined,
    post: micros(api?.writes.raw),
    get: micros(api?.reads.raw),
    fastifyGet: micros(api?.reads.fastify),
  };
  const floorTable = floorRows(
    unit,
    Object.fromEntries(Object.entries(ref).filter(([, cost]) => cost !== undefined)),
  );
  results.floors = { unit, reference: ref, rows: floorTable };
  console.log(`${formatFloors(unit, floorTable)}\n`);
}

/** The scale-out figures (PostgreSQL over verified mTLS with durable commits), printed after the table. */
async function scaleOut(ca: TestCa, root: string): Promise<void> {
  const db = await startPrivatePostgres({
    serverCert: await ca.issue('db-server'),
    clientCaPem: ca.certPem,
    settings: { fsync: 'on', synchronous_commit: 'on', full_page_writes: 'on', max_connections: '100' },
  });
  try {
    const spec = { ca, root, db };
    const writes = await writeFigures(spec, { writes: SCALE_WRITES, concurrency: SCALE_CONCURRENCY });
    console.log(
      formatFigures(
        `fact writes, ${SCALE_CONCURRENCY} concurrent, ${SCALE_WRITES} writes:`,
        'facts',
        writes,
      ).join('\n'),
    );
    const replicated = await replicationFigures(spec, SCALE_REPLICATED);
    console.log(
      formatFigures(
        `replication of ${SCALE_REPLICATED} facts from a peer over mTLS:`,
        'facts',
        replicated,
      ).join('\n'),
    );
    results.scaleOut = { writes, replicated };
  } finally {
    await db.stop();
  }
}

/** Both nodes run the gRPC listener: replication is a stream (pushes; no wakes needed, none sent). */
const GRPC = { TESSERA_FEDERATION_GRPC_PORT: '0', TESSERA_FEDERATION_PUSH_ENABLED: 'false' };

/** B holds a receiving gRPC stream (from its /metrics). */
async function streamOpen(node: NodeProcess): Promise<void> {
  await until('the gRPC stream', async () => {
    const response = await request(new URL('/metrics', node.apiUrl));
    return /^tessera_federation_grpc_streams\{role="receiver"\} 1$/m.test(await response.body.text());
  });
}

/** Federation over gRPC beside HTTPS (issue 11): replication facts/s and visible-after-the-201 p50 / p99. */
async function grpc(ca: TestCa, root: string): Promise<void> {
  if (!SECTIONS.has('grpc')) return;
  step('gRPC federation beside HTTPS');
  const overHttps = await replicate(ca, root, 'grpc-cmp-https', counts.replicated, false, seconds * 20);
  const overGrpc = await replicate(
    ca,
    root,
    'grpc-cmp-grpc',
    counts.replicated,
    false,
    seconds * 20,
    false,
    GRPC,
  );
  const https = await wakeLatency(ca, root, counts.latencySamples, seconds * 10, { tag: 'lat-https' });
  const stream = await wakeLatency(ca, root, counts.latencySamples, seconds * 10, {
    tag: 'lat-grpc',
    env: GRPC,
    ready: streamOpen,
  });
  results.grpc = { overHttps, overGrpc, https, stream };
  console.log(
    `federation over gRPC beside HTTPS (${int(counts.replicated)} facts, ${stream.visible.length} writes):`,
  );
  console.log(`  replication A→B, HTTPS pages:  ${int(overHttps.perWall)}/s, ${int(overHttps.perCpu)}/CPU-s`);
  console.log(`  replication A→B, gRPC stream:  ${int(overGrpc.perWall)}/s, ${int(overGrpc.perCpu)}/CPU-s`);
  console.log(`  visible on B after the 201, HTTPS + wake: ${line(https.visible)}`);
  console.log(`  visible on B after the 201, gRPC stream:  ${line(stream.visible)}\n`);
}

installCleanup();
pinLoad();
const started = new Date();
const root = await mkdtemp(join(tmpdir(), 'tessera-bench-'));
const machine = {
  node: process.version,
  cores: cpus().length,
  cpu: cpus()[0]?.model ?? 'unknown',
  loadavg: loadavg().map((l) => Number(l.toFixed(2))),
  pinning: pinning
    ? 'servers on core 0, load generator on core 1 (taskset)'
    : 'none (no taskset or one core)',
};
console.log(
  `tessera bench${quick ? ' --quick' : ''}: node ${machine.node}, ${machine.cores} cores, load ${machine.loadavg.join(' ')}, pinning: ${machine.pinning}; ${counts.rounds} round(s) (handshakes ${counts.handshakeRounds}), medians`,
);
let failed = false;
try {
  const ca = await createTestCa('Tessera Bench CA');
  await apiAndHandshakes(ca, root);
  await replication(ca, root);
  await million(ca, root);
  await latency(ca, root);
  console.log(`\n${formatTable(rows)}\n`);
  await floors(root);
  await grpc(ca, root);
  if (SECTIONS.has('scale-out') && !quick) await scaleOut(ca, root);
  const dir = fileURLToPath(new URL('results/', import.meta.url));
  await mkdir(dir, { recursive: true });
  const file = join(dir, `${started.toISOString().replace(/[:.]/g, '-')}.json`);
  await writeFile(
    file,
    `${JSON.stringify({ started: started.toISOString(), quick, machine, counts, rows, results }, null, 2)}\n`,
  );
  console.log(`results: ${file}`);
} catch (error) {
  failed = true;
  console.error(error);
} finally {
  killAll('SIGKILL');
  await rm(root, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
