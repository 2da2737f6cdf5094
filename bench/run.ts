// `npm run bench`: federation figures on this machine (not a test; nothing here passes or fails).
//  1. fact write rate over keep-alive HTTP (API, 16 concurrent requests)
//  2. replication throughput A→B over mTLS and in the insecure dev mode, and their ratio
//  3. replication latency with push wake: p50 / p99 from the write on A to the fact being readable on B
//  0. handshakes (handshakes.ts): new mTLS handshakes per server CPU-second, the federation listener beside
//     a bare node:tls server with the same policy
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
const SECTIONS = new Set(
  (process.env.BENCH_SECTIONS ?? 'handshakes,writes,replication,latency,scale-out')
    .split(',')
    .map((s) => s.trim()),
);
const SLOW_PULL = { TESSERA_FEDERATION_PULL_INTERVAL_S: '3600' };

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

async function replicationRate(ca: TestCa, root: string, insecure: boolean): Promise<number> {
  const tag = insecure ? 'insecure' : 'mtls';
  const [nameA, nameB] = [`${tag}-a`, `${tag}-b`];
  await seedFacts(join(root, nameA), testUri(nameA), REPLICATED);
  const a = await startNodeProcess({ name: nameA, ca, root, env: SLOW_PULL, insecure });
  const b = await startNodeProcess({ name: nameB, ca, root, env: SLOW_PULL, insecure });
  try {
    await addAndApprove(a, b);
    const started = performance.now();
    await addAndApprove(b, a); // B's approval of A starts B's pull
    await until('replication to finish', async () => (await total(b)) === REPLICATED, {
      timeoutMs: 600_000,
      intervalMs: 20,
    });
    return REPLICATED / ((performance.now() - started) / 1000);
  } finally {
    await Promise.all([a.stop(), b.stop()]);
  }
}

async function wakeLatency(ca: TestCa, root: string): Promise<number[]> {
  const a = await startNodeProcess({ name: 'lat-a', ca, root, env: SLOW_PULL });
  const b = await startNodeProcess({ name: 'lat-b', ca, root, env: SLOW_PULL });
  try {
    await addAndApprove(a, b);
    await addAndApprove(b, a);
    const samples: number[] = [];
    for (let i = 0; i < LATENCY_SAMPLES; i++) {
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
  if (SECTIONS.has('scale-out')) await scaleOut(ca, root);
} finally {
  await rm(root, { recursive: true, force: true });
}
