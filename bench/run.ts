// `npm run bench`: federation figures on this machine (not a test; nothing here passes or fails).
//  1. fact write rate over keep-alive HTTP (API, 16 concurrent requests)
//  2. replication throughput A→B over mTLS and in the insecure dev mode, and their ratio
//  3. replication latency with push wake: p50 / p99 from the write on A to the fact being readable on B
//  0. handshakes (handshakes.ts): new mTLS handshakes per server CPU-second, the federation listener beside
//     a bare node:tls server with the same policy
//  5. grpc: replication throughput and wake-to-visible p50 / p99 over a gRPC stream, beside the same
//     figures over HTTPS (both nodes with TESSERA_FEDERATION_GRPC_PORT; BENCH_GRPC_REPLICATED,
//     BENCH_GRPC_LATENCY_SAMPLES; `BENCH_SECTIONS=grpc BENCH_GRPC_REPLICATED=2000 BENCH_GRPC_LATENCY_SAMPLES=20`
//     is a quick run)
//  4. scale-out (scale-out.ts): writes and replication on SQLite, on PostgreSQL with 1 and with 2 replicas,
//     per second and per CPU-second of the node's processes
// BENCH_SECTIONS (e.g. `scale-out`, or `writes,latency`) runs some of them only.
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { addAndApprove, fact, type NodeProcess, startNodeProcess } from '../test/support/node-process.ts';
import { createTestCa, type TestCa, testUri } from '../test/support/pki.ts';
import { startPrivatePostgres } from '../test/support/private-postgres.ts';
import { until } from '../test/support/reload.ts';
import { seedFacts } from '../test/support/seed.ts';
import { handshakeFigures } from './handshakes.ts';
import { formatFigures, replicationFigures, writeFigures } from './scale-out.ts';

const WRITES = Number(process.env.BENCH_WRITES ?? 5000);
const REPLICATED = Number(process.env.BENCH_REPLICATED ?? 50_000);
const LATENCY_SAMPLES = Number(process.env.BENCH_LATENCY_SAMPLES ?? 200);
const SCALE_WRITES = Number(process.env.BENCH_SCALE_WRITES ?? 3000);
const SCALE_CONCURRENCY = Number(process.env.BENCH_SCALE_CONCURRENCY ?? 32);
const SCALE_REPLICATED = Number(process.env.BENCH_SCALE_REPLICATED ?? 10_000);
const HANDSHAKES = Number(process.env.BENCH_HANDSHAKES ?? 2000);
const GRPC_REPLICATED = Number(process.env.BENCH_GRPC_REPLICATED ?? 20_000);
const GRPC_LATENCY_SAMPLES = Number(process.env.BENCH_GRPC_LATENCY_SAMPLES ?? 100);
const SECTIONS = new Set(
  (process.env.BENCH_SECTIONS ?? 'handshakes,writes,replication,latency,grpc,scale-out')
    .split(',')
    .map((s) => s.trim()),
);
const SLOW_PULL = { TESSERA_FEDERATION_PULL_INTERVAL_S: '3600' };
/** Both nodes run the gRPC listener: replication is a stream (pushes; no wakes needed, none sent). */
const GRPC = {
  ...SLOW_PULL,
  TESSERA_FEDERATION_GRPC_PORT: '0',
  TESSERA_FEDERATION_PUSH_ENABLED: 'false',
};

type Wire = 'https' | 'grpc';

const total = async (node: NodeProcess) =>
  (await node.api<{ total: number }>('GET', '/v1/facts?limit=1')).body.total;

async function writeRate(ca: TestCa, root: string): Promise<number> {
  const node = await startNodeProcess({ name: 'writer', ca, root, env: SLOW_PULL });
  const agent = new Agent({ connections: 16, keepAliveTimeout: 30_000 });
  try {
    let next = 0;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next < WRITES) {
          const i = next++;
          const response = await request(new URL('/v1/facts', node.apiUrl), {
            method: 'POST',
            dispatcher: agent,
            headers: { authorization: `Bearer ${node.apiKey}`, 'content-type': 'application/json' },
            body: JSON.stringify(fact(`bench:w/${i}`)),
          });
          await response.body.dump();
          if (response.statusCode !== 201) throw new Error(`write ${i}: ${response.statusCode}`);
        }
      }),
    );
    return WRITES / ((performance.now() - started) / 1000);
  } finally {
    await agent.close();
    await node.stop();
  }
}

async function replicationRate(
  ca: TestCa,
  root: string,
  insecure: boolean,
  wire: Wire = 'https',
  count = REPLICATED,
): Promise<number> {
  const tag = `${insecure ? 'insecure' : 'mtls'}-${wire}-${count}`;
  const [nameA, nameB] = [`${tag}-a`, `${tag}-b`];
  const env = wire === 'grpc' ? GRPC : SLOW_PULL;
  await seedFacts(join(root, nameA), testUri(nameA), count);
  const a = await startNodeProcess({ name: nameA, ca, root, env, insecure });
  const b = await startNodeProcess({ name: nameB, ca, root, env, insecure });
  try {
    await addAndApprove(a, b);
    const started = performance.now();
    await addAndApprove(b, a); // B's approval of A starts B's pull
    await until('replication to finish', async () => (await total(b)) === count, {
      timeoutMs: 600_000,
      intervalMs: 20,
    });
    return count / ((performance.now() - started) / 1000);
  } finally {
    await Promise.all([a.stop(), b.stop()]);
  }
}

async function wakeLatency(
  ca: TestCa,
  root: string,
  wire: Wire = 'https',
  count = LATENCY_SAMPLES,
): Promise<number[]> {
  const env = wire === 'grpc' ? GRPC : SLOW_PULL;
  const a = await startNodeProcess({ name: `lat-${wire}-${count}-a`, ca, root, env });
  const b = await startNodeProcess({ name: `lat-${wire}-${count}-b`, ca, root, env });
  try {
    await addAndApprove(a, b);
    await addAndApprove(b, a);
    const samples: number[] = [];
    // Over gRPC, wait for the stream to be open first (B's approval of A opens it).
    if (wire === 'grpc') await until('the stream', async () => (await total(b)) === 0 && streamsOpen(b));
    for (let i = 0; i < count; i++) {
      const started = performance.now();
      const written = await a.api<{ cid: string }>('POST', '/v1/facts', fact(`bench:lat/${i}`));
      await until(
        'the fact on B',
        async () => (await b.api('GET', `/v1/facts/${written.body.cid}`)).status === 200,
        {
          timeoutMs: 60_000,
          intervalMs: 2,
        },
      );
      samples.push(performance.now() - started);
    }
    return samples.sort((x, y) => x - y);
  } finally {
    await Promise.all([a.stop(), b.stop()]);
  }
}

/** B holds a receiving gRPC stream (from its /metrics). */
async function streamsOpen(node: NodeProcess): Promise<boolean> {
  const response = await request(new URL('/metrics', node.apiUrl));
  return /^tessera_federation_grpc_streams\{role="receiver"\} 1$/m.test(await response.body.text());
}

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? NaN;

/** Section 4: a private PostgreSQL with durable commits, over verified mutual TLS (`hostssl … cert`). */
async function scaleOut(ca: TestCa, root: string): Promise<void> {
  const db = await startPrivatePostgres({
    serverCert: await ca.issue('db-server'),
    clientCaPem: ca.certPem,
    settings: { fsync: 'on', synchronous_commit: 'on', full_page_writes: 'on', max_connections: '100' },
  });
  try {
    const spec = { ca, root, db };
    const writes = await writeFigures(spec, { writes: SCALE_WRITES, concurrency: SCALE_CONCURRENCY });
    const title = `fact writes, ${SCALE_CONCURRENCY} concurrent (spread over the replicas), ${SCALE_WRITES} writes:`;
    console.log(formatFigures(title, 'facts', writes).join('\n'));
    const one = writes[1]?.rate ?? Number.NaN;
    const two = writes[2]?.rate ?? Number.NaN;
    console.log(`  2 replicas / 1 replica on writes: ${(two / one).toFixed(2)}`);
    const replicated = await replicationFigures(spec, SCALE_REPLICATED);
    console.log(
      formatFigures(
        `replication of ${SCALE_REPLICATED} facts from a peer over mTLS:`,
        'facts',
        replicated,
      ).join('\n'),
    );
  } finally {
    await db.stop();
  }
}

const root = await mkdtemp(join(tmpdir(), 'tessera-bench-'));
try {
  const ca = await createTestCa('Tessera Bench CA');
  console.log(
    `tessera bench (node ${process.version}, ${cpus().length} cores, ${WRITES} writes, ${REPLICATED} replicated facts)`,
  );
  if (SECTIONS.has('handshakes')) console.log((await handshakeFigures(ca, root, HANDSHAKES)).join('\n'));
  if (SECTIONS.has('writes')) {
    const writes = await writeRate(ca, root);
    console.log(`fact writes, keep-alive HTTP, 16 concurrent:   ${writes.toFixed(0)} facts/s`);
  }
  if (SECTIONS.has('replication')) {
    const mtls = await replicationRate(ca, root, false);
    console.log(`replication A→B over mTLS:                    ${mtls.toFixed(0)} facts/s`);
    const insecure = await replicationRate(ca, root, true);
    console.log(`replication A→B insecure (dev mode):          ${insecure.toFixed(0)} facts/s`);
    console.log(`mTLS / insecure throughput ratio:             ${(mtls / insecure).toFixed(2)}`);
  }
  if (SECTIONS.has('latency')) {
    const latency = await wakeLatency(ca, root);
    console.log(
      `replication latency with wake (${latency.length} facts):   p50 ${percentile(latency, 0.5).toFixed(1)} ms, p99 ${percentile(latency, 0.99).toFixed(1)} ms`,
    );
  }
  if (SECTIONS.has('grpc')) {
    const overHttps = await replicationRate(ca, root, false, 'https', GRPC_REPLICATED);
    const overGrpc = await replicationRate(ca, root, false, 'grpc', GRPC_REPLICATED);
    console.log(
      `replication of ${GRPC_REPLICATED} facts A→B, HTTPS pages:   ${overHttps.toFixed(0)} facts/s`,
    );
    console.log(`replication of ${GRPC_REPLICATED} facts A→B, gRPC stream:   ${overGrpc.toFixed(0)} facts/s`);
    const wakeHttps = await wakeLatency(ca, root, 'https', GRPC_LATENCY_SAMPLES);
    const wakeGrpc = await wakeLatency(ca, root, 'grpc', GRPC_LATENCY_SAMPLES);
    const line = (sorted: number[]) =>
      `p50 ${percentile(sorted, 0.5).toFixed(1)} ms, p99 ${percentile(sorted, 0.99).toFixed(1)} ms`;
    console.log(`write-to-visible on B, HTTPS with wake (${wakeHttps.length}):  ${line(wakeHttps)}`);
    console.log(`write-to-visible on B, gRPC stream push (${wakeGrpc.length}): ${line(wakeGrpc)}`);
  }
  if (SECTIONS.has('scale-out')) await scaleOut(ca, root);
} finally {
  await rm(root, { recursive: true, force: true });
}
