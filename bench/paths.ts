// The measured paths of the benchmark table (bench/run.ts prints them): each takes Tessera and its reference
// in the same run, alternates them round by round (A, B, A, B…; handshakes load them all at once) and keeps
// every round's figure; rates are per CPU-second of the server process (utime + stime from
// /proc/<pid>/stat), and per wall-second beside.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { request as send } from 'undici';
import { addAndApprove, fact, type NodeProcess } from '../test/support/node-process.ts';
import { type TestCa, testUri, writeMaterial } from '../test/support/pki.ts';
import { until } from '../test/support/reload.ts';
import { countOnDisk, seededCid, seedFacts } from '../test/support/seed.ts';
import { cpuMeter, processCpuSeconds } from './cpu.ts';
import {
  type Bound,
  type ClientMaterial,
  handshakeLoad,
  httpLoad,
  type LoadResult,
  mixedHandshakeLoad,
  mtlsAgent,
} from './load.ts';
import { restartProfiles, startNginx, startNode, startReference } from './nodes.ts';

/** One round's figure: operations per server CPU-second and per wall-second. */
export interface Sample {
  perCpu: number;
  perWall: number;
  cpuSeconds: number;
  done: number;
}

export const median = (values: number[]) =>
  values.length ? ([...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number) : Number.NaN;

/**
 * The servers in this round's order: each round starts one server later. In a fixed order a server's
 * place can move its figure on this VM: in two runs of 40 rounds, one after the other, the leaf-reading
 * handshake reference measured 0.94× raw Node with raw Node always last, 0.98× with the order turning.
 */
export const inTurn = <T>(servers: readonly T[], round: number): T[] =>
  servers.map((_, i) => servers[(i + round) % servers.length] as T);

/**
 * The median over rounds of `a`'s rate over `b`'s in the same round (rates per CPU-second): a round's two
 * figures share the machine's state of that moment, which drifts by more than the differences measured.
 */
export const pairedRatio = (a: Sample[], b: Sample[]) =>
  median(a.slice(0, b.length).map((sample, i) => sample.perCpu / (b[i] as Sample).perCpu));

/** Runs `load` once, metering the CPU of the server processes `pids`. */
async function sample(pids: number[], load: () => Promise<LoadResult>): Promise<Sample> {
  restartProfiles(pids);
  const cpu = cpuMeter(() => pids.reduce((sum, pid) => sum + processCpuSeconds(pid), 0));
  const result = await load();
  // The server may still be finishing its side of the last operations (a closing handshake).
  await new Promise((resolve) => setTimeout(resolve, 100));
  const cpuSeconds = Math.max(cpu.stop(), 0.01);
  return {
    perCpu: result.done / cpuSeconds,
    perWall: result.done / result.wallSeconds,
    cpuSeconds,
    done: result.done,
  };
}

/**
 * One handshake round with every server loaded at once, each connection going to the next server in turn
 * (mixedHandshakeLoad), each server's CPU metered over the same window. A server measured alone moved by
 * ±15% from one round to the next on this VM; measured at the same moments, two identical nodes came out
 * within 1.3% of each other in half the rounds (docs/performance.md).
 */
async function mixedSample<S extends { port: number; pid: number }>(
  servers: readonly S[],
  client: ClientMaterial,
  bound: Bound,
): Promise<[S, Sample][]> {
  const pids = servers.map((s) => s.pid);
  restartProfiles(pids);
  const meters = pids.map((pid) => cpuMeter(() => processCpuSeconds(pid)));
  const result = await mixedHandshakeLoad(
    servers.map((s) => s.port),
    client,
    bound,
  );
  // The servers may still be finishing their side of the last handshakes.
  await new Promise((resolve) => setTimeout(resolve, 100));
  return servers.map((server, i) => {
    const cpuSeconds = Math.max(meters[i]!.stop(), 0.01);
    const done = result.done[i] as number;
    return [server, { perCpu: done / cpuSeconds, perWall: done / result.wallSeconds, cpuSeconds, done }];
  });
}

export interface Counts {
  rounds: number;
  /** Handshakes get many rounds, all servers loaded at once in each: their ratio is compared with 0.95. */
  handshakeRounds: number;
  handshakes: Bound;
  writes: Bound;
  reads: Bound;
  connections: number;
  replicated: number;
  million: number;
  latencySamples: number;
}

/** The node every API and handshake row runs against: mTLS on both listeners, plus a client certificate. */
export async function startServerNode(
  ca: TestCa,
  root: string,
): Promise<{ node: NodeProcess; client: ClientMaterial }> {
  const node = await startNode({
    name: 'server',
    ca,
    root,
    env: { TESSERA_API_TLS: 'mtls' },
    profile: 'server',
  });
  await mkdir(join(root, 'bench-client'), { recursive: true });
  const material = await writeMaterial(
    join(root, 'bench-client'),
    'client',
    await ca.issue('bench-client'),
    ca.certPem,
  );
  const client = {
    cert: await readFile(material.certPath, 'utf8'),
    key: await readFile(material.keyPath, 'utf8'),
    ca: ca.certPem,
  };
  return { node, client };
}

export interface HandshakeFigures {
  tessera: Sample[];
  raw: Sample[];
  /** Raw Node that also reads the client's leaf certificate: the least an identifying server does. */
  rawIdentify: Sample[];
  /** The same from a bare node:https server, as the federation listener is one. */
  httpsIdentify: Sample[];
  nginx: Sample[] | null;
}

export async function handshakeRounds(
  node: NodeProcess,
  client: ClientMaterial,
  root: string,
  counts: Counts,
): Promise<HandshakeFigures> {
  const material = [node.tls.certPath, node.tls.keyPath, node.tls.caPath];
  const raw = await startReference('raw-tls-server.ts', material);
  const variants: Awaited<ReturnType<typeof startReference>>[] = [];
  try {
    for (const mode of ['identify', 'https-identify'])
      variants.push(await startReference('raw-tls-server.ts', [...material, mode]));
  } catch (error) {
    await Promise.all([raw, ...variants].map((v) => v.server.stop()));
    throw error;
  }
  const [identifying, https] = variants as [(typeof variants)[0], (typeof variants)[0]];
  const nginxDir = join(root, 'nginx');
  await mkdir(nginxDir, { recursive: true });
  const nginx = await startNginx(nginxDir, node.tls).catch((error: Error) => {
    console.error(`bench: nginx not used: ${error.message}`);
    return undefined;
  });
  const tesseraPort = Number(new URL(node.federationUrl).port);
  const servers = [
    { port: tesseraPort, pid: node.proc.child.pid as number, into: [] as Sample[] },
    { port: raw.port, pid: raw.server.pid, into: [] as Sample[] },
    { port: identifying.port, pid: identifying.server.pid, into: [] as Sample[] },
    { port: https.port, pid: https.server.pid, into: [] as Sample[] },
    ...(nginx ? [{ port: nginx.port, pid: nginx.server.pid, into: [] as Sample[] }] : []),
  ];
  try {
    for (const s of servers) await handshakeLoad(s.port, client, { count: 50, seconds: 20 }); // warm-up
    for (let i = 0; i < counts.handshakeRounds; i++) {
      const turn = inTurn(servers, i);
      for (const [s, figure] of await mixedSample(turn, client, counts.handshakes)) s.into.push(figure);
    }
    return {
      tessera: servers[0]!.into,
      raw: servers[1]!.into,
      rawIdentify: servers[2]!.into,
      httpsIdentify: servers[3]!.into,
      nginx: nginx ? servers[4]!.into : null,
    };
  } finally {
    await Promise.all([raw, ...variants].map((v) => v.server.stop()));
    await nginx?.server.stop();
  }
}

export interface ApiFigures {
  /** `fastify`: bare Fastify answering the same bytes (bench/bare-fastify-server.ts), the framework's own cost. */
  writes: { tessera: Sample[]; raw: Sample[]; fastify: Sample[] };
  reads: { tessera: Sample[]; raw: Sample[]; fastify: Sample[]; bodyBytes: number };
}

const READ_ENTITY = 'bench:read/entity';

/** POST /v1/facts and GET /v1/facts?entity= on the node's mTLS API beside a bare node:https server. */
export async function apiRounds(
  node: NodeProcess,
  client: ClientMaterial,
  root: string,
  counts: Counts,
  which: { writes: boolean; reads: boolean },
): Promise<ApiFigures> {
  const agent = mtlsAgent(client, counts.connections);
  const tessera = { url: node.apiUrl, apiKey: node.apiKey };
  const pid = node.proc.child.pid as number;
  let serial = 0;
  const writeBody = () => JSON.stringify(fact(`bench:w/${serial++}`));
  const post = (target: typeof tessera, bound: Bound) =>
    httpLoad(agent, target, bound, counts.connections, 201, () => ({
      method: 'POST',
      path: '/v1/facts',
      body: writeBody(),
    }));
  const get = (target: typeof tessera, bound: Bound) =>
    httpLoad(agent, target, bound, counts.connections, 200, () => ({
      method: 'GET',
      path: `/v1/facts?entity=${encodeURIComponent(READ_ENTITY)}`,
    }));
  // What the reference answers: Tessera's own answers, byte for byte in size.
  const request = async (method: 'GET' | 'POST', path: string, body?: string) => {
    const response = await send(new URL(path, node.apiUrl), {
      method,
      dispatcher: agent,
      headers: {
        authorization: `Bearer ${node.apiKey}`,
        ...(body ? { 'content-type': 'application/json' } : {}),
      },
      ...(body ? { body } : {}),
    });
    return response.body.text();
  };
  const postReply = await request('POST', '/v1/facts', writeBody());
  for (let i = 0; i < 10; i++)
    await request(
      'POST',
      '/v1/facts',
      JSON.stringify(fact(READ_ENTITY, 'company', { value: { type: 'number', v: i } })),
    );
  const getReply = await request('GET', `/v1/facts?entity=${encodeURIComponent(READ_ENTITY)}`);
  const dir = join(root, 'raw-https');
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'post.json'), postReply);
  await writeFile(join(dir, 'get.json'), getReply);
  const replyArgs = [
    node.tls.certPath,
    node.tls.keyPath,
    node.tls.caPath,
    join(dir, 'post.json'),
    join(dir, 'get.json'),
  ];
  const raw = await startReference('raw-https-server.ts', replyArgs);
  const bare = await startReference('bare-fastify-server.ts', replyArgs).catch(async (error: Error) => {
    await raw.server.stop();
    throw error;
  });
  const reference = { url: `https://127.0.0.1:${raw.port}`, apiKey: 'unused' };
  const framework = { url: `https://127.0.0.1:${bare.port}`, apiKey: 'unused' };
  const figures: ApiFigures = {
    writes: { tessera: [], raw: [], fastify: [] },
    reads: { tessera: [], raw: [], fastify: [], bodyBytes: Buffer.byteLength(getReply) },
  };
  // Tessera, raw Node, bare Fastify, round after round, each round starting one server later.
  const servers = [
    { target: tessera, pid, key: 'tessera' as const },
    { target: reference, pid: raw.server.pid, key: 'raw' as const },
    { target: framework, pid: bare.server.pid, key: 'fastify' as const },
  ];
  try {
    const warm = { count: 200, seconds: 20 };
    if (which.writes) {
      for (const s of servers) await post(s.target, warm);
      for (let i = 0; i < counts.rounds; i++)
        for (const s of inTurn(servers, i))
          figures.writes[s.key].push(await sample([s.pid], () => post(s.target, counts.writes)));
    }
    if (which.reads) {
      for (const s of servers) await get(s.target, warm);
      for (let i = 0; i < counts.rounds; i++)
        for (const s of inTurn(servers, i))
          figures.reads[s.key].push(await sample([s.pid], () => get(s.target, counts.reads)));
    }
    return figures;
  } finally {
    await agent.close();
    await Promise.all([raw.server.stop(), bare.server.stop()]);
  }
}

const total = async (node: NodeProcess) =>
  (await node.api<{ total: number }>('GET', '/v1/facts?limit=1')).body.total;

export interface Replication extends Sample {
  seconds: number;
  /** Only for the 1M row: rows, distinct CIDs and distinct ids on B's disk once B stopped. */
  onDisk?: { rows: number; distinctCids: number; distinctIds: number };
}

/** `facts` seeded on A, pulled by B from B's approval of A until B holds them all (bounded by `timeoutS`). */
export async function replicate(
  ca: TestCa,
  root: string,
  tag: string,
  facts: number,
  insecure: boolean,
  timeoutS: number,
  checkDisk = false,
  env: Record<string, string> = {},
): Promise<Replication> {
  const [nameA, nameB] = [`${tag}-a`, `${tag}-b`];
  await seedFacts(join(root, nameA), testUri(nameA), facts);
  const profile = insecure ? undefined : 'replication';
  // A seeded node signs its unsigned facts before it is ready: about 0.25 ms each here (a million took
  // four minutes); 0.5 ms each is allowed.
  const readyTimeoutMs = Math.max(60_000, facts * 0.5);
  const a = await startNode({
    name: nameA,
    ca,
    root,
    insecure,
    env,
    readyTimeoutMs,
    ...(profile ? { profile } : {}),
  });
  const b = await startNode({ name: nameB, ca, root, insecure, env, ...(profile ? { profile } : {}) });
  let stopped = false;
  try {
    await addAndApprove(a, b);
    const pids = [a.proc.child.pid as number, b.proc.child.pid as number];
    let seconds = 0;
    const s = await sample(pids, async () => {
      const started = performance.now();
      await addAndApprove(b, a); // B's approval of A starts B's pull
      // Watched by the last seeded fact (an indexed lookup; B pulls in A's order, so it comes last), then the
      // total once: counting B's whole table every 20 ms would cost B more CPU than the facts it counts.
      const last = seededCid(facts - 1);
      await until(
        'replication to finish',
        async () => (await b.api('GET', `/v1/facts/${last}`)).status === 200 && (await total(b)) >= facts,
        { timeoutMs: timeoutS * 1000, intervalMs: 20 },
      );
      seconds = (performance.now() - started) / 1000;
      return { done: facts, wallSeconds: seconds };
    });
    if (!checkDisk) return { ...s, seconds };
    await Promise.all([a.stop(), b.stop()]);
    stopped = true;
    return { ...s, seconds, onDisk: countOnDisk(b.dataDir) };
  } finally {
    if (!stopped) await Promise.all([a.stop(), b.stop()]);
  }
}

const IDLE_MS = 150;
const WARM_UP = 5;

/** One write's latencies (ms), each list sorted. */
export interface WakeLatency {
  /** The write on A, request to 201 (its durable commit included). */
  write: number[];
  /** Wake-to-visible: from the 201 (the fact is committed on A, the wake on its way) until B serves it. */
  visible: number[];
}

/**
 * Idle nodes, one write at a time: how long the write on A takes, then how long until B has committed the
 * fact (the wake, B's pull and its commit), watched every 1 ms in B's database file, then checked served.
 */
export async function wakeLatency(
  ca: TestCa,
  root: string,
  samples: number,
  timeoutS: number,
  wire: { tag: string; env?: Record<string, string>; ready?: (b: NodeProcess) => Promise<void> } = {
    tag: 'lat',
  },
): Promise<WakeLatency> {
  // A core each, as two machines would be: on one core every hop between them waited for the other's time
  // slice. The watcher (this process) reads B's file on B's core, a point query a millisecond.
  const a = await startNode({ name: `${wire.tag}-a`, ca, root, env: wire.env ?? {} });
  const b = await startNode({ name: `${wire.tag}-b`, ca, root, env: wire.env ?? {}, core: 1 });
  const deadline = performance.now() + timeoutS * 1000;
  let closeDb = () => {};
  try {
    await addAndApprove(a, b);
    await addAndApprove(b, a);
    await wire.ready?.(b);
    const db = new Database(join(b.dataDir, 'tessera.db'), { readonly: true, fileMustExist: true });
    closeDb = () => db.close();
    const onB = db.prepare<[string], unknown>('SELECT 1 FROM facts WHERE cid = ?');
    const write: number[] = [];
    const visible: number[] = [];
    // Warm-up writes, not counted (the first one through a cold path took 30–140 ms in every run).
    for (let i = -WARM_UP; i < samples && performance.now() < deadline; i++) {
      // Idle nodes: longer than the wake debounce (50 ms) since the last write, or this write would only
      // join the previous write's coalescing window and wait for its end.
      await new Promise((resolve) => setTimeout(resolve, IDLE_MS));
      const started = performance.now();
      const written = await a.api<{ cid: string }>('POST', '/v1/facts', fact(`bench:lat/${i}`));
      const committed = performance.now();
      // Watched in B's database file, read by this process: polling B's API every 2 ms cost B a request
      // every 2 ms on the core it shares with A, which delayed the very work being timed.
      await until('the fact committed on B', () => onB.get(written.body.cid) !== undefined, {
        timeoutMs: 60_000,
        intervalMs: 1,
      });
      if (i >= 0) {
        visible.push(performance.now() - committed);
        write.push(committed - started);
      }
      // Committed is served: B's API reads the same file (checked, not timed).
      const served = await b.api('GET', `/v1/facts/${written.body.cid}`);
      if (served.status !== 200) throw new Error(`B holds ${written.body.cid} but answers ${served.status}`);
    }
    const sorted = (list: number[]) => list.sort((x, y) => x - y);
    return { write: sorted(write), visible: sorted(visible) };
  } finally {
    closeDb();
    await Promise.all([a.stop(), b.stop()]);
  }
}

export const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? Number.NaN;
