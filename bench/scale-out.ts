// The scale-out figures: fact writes and replication into one node kept in SQLite, in PostgreSQL with one
// replica and with two, in the same run and under the same load, each also per CPU-second of the node's
// processes (and the database's CPU time beside it). PostgreSQL is a private server over verified mutual
// TLS with durable commits (fsync and synchronous_commit on), as production runs it.
import { join } from 'node:path';
import { addAndApprove, type NodeProcess, startNodeProcess } from '../test/support/node-process.ts';
import type { TestCa } from '../test/support/pki.ts';
import { testUri } from '../test/support/pki.ts';
import type { PrivatePostgres } from '../test/support/private-postgres.ts';
import { startProcessReplicas } from '../test/support/process-replicas.ts';
import { until } from '../test/support/reload.ts';
import { seedFacts } from '../test/support/seed.ts';
import { cpuMeter, processCpuSeconds, serverTreeCpuSeconds } from './cpu.ts';
import { writeFacts } from './write-load.ts';

const SLOW_PULL = { TESSERA_FEDERATION_PULL_INTERVAL_S: '3600' };

export type Setup = { label: string; replicas: 0 } | { label: string; replicas: 1 | 2 };

export const SETUPS: Setup[] = [
  { label: 'SQLite', replicas: 0 },
  { label: 'PostgreSQL, 1 replica', replicas: 1 },
  { label: 'PostgreSQL, 2 replicas', replicas: 2 },
];

export interface Figure {
  label: string;
  /** Facts per wall-clock second. */
  rate: number;
  /** Facts per CPU-second of the node's processes. */
  perNodeCpu: number;
  /** CPU seconds of the node's processes and of the database server during the run. */
  nodeCpu: number;
  /** null for SQLite: it runs inside the node's process, its time is in nodeCpu. */
  dbCpu: number | null;
}

/** A node of the given setup: one SQLite process, or 1 or 2 replicas on `db` (schema and login `name`). */
async function startSetup(
  setup: Setup,
  spec: { ca: TestCa; root: string; db: PrivatePostgres; name: string },
): Promise<{ nodes: NodeProcess[]; stop(): Promise<void> }> {
  if (setup.replicas === 0) {
    const node = await startNodeProcess({ name: spec.name, ca: spec.ca, root: spec.root, env: SLOW_PULL });
    return { nodes: [node], stop: () => node.stop() };
  }
  const replicas = await startProcessReplicas({ ...spec, count: setup.replicas, env: SLOW_PULL });
  return { nodes: replicas.replicas, stop: () => replicas.stop() };
}

/** Measures `work` on `nodes`: wall time comes from work, CPU from /proc. */
async function measure(
  label: string,
  nodes: NodeProcess[],
  db: PrivatePostgres | null,
  facts: number,
  work: () => Promise<number>,
): Promise<Figure> {
  const nodeCpu = cpuMeter(() =>
    nodes.reduce((sum, node) => sum + processCpuSeconds(node.proc.child.pid ?? 0), 0),
  );
  const dbCpu = db ? cpuMeter(() => serverTreeCpuSeconds(db.pid)) : null;
  const seconds = await work();
  const node = nodeCpu.stop();
  return {
    label,
    rate: facts / seconds,
    perNodeCpu: facts / node,
    nodeCpu: node,
    dbCpu: dbCpu?.stop() ?? null,
  };
}

export async function writeFigures(
  spec: { ca: TestCa; root: string; db: PrivatePostgres },
  options: { writes: number; concurrency: number },
): Promise<Figure[]> {
  const figures: Figure[] = [];
  for (const [index, setup] of SETUPS.entries()) {
    const name = `writes${index}`;
    const { nodes, stop } = await startSetup(setup, { ...spec, name });
    try {
      const targets = nodes.map((node) => ({ apiUrl: node.apiUrl, apiKey: node.apiKey }));
      // Warm-up: JIT, pools and TLS sessions, not measured.
      await writeFacts(targets, 300, { concurrency: options.concurrency, prefix: `bench:warm${index}` });
      figures.push(
        await measure(setup.label, nodes, setup.replicas ? spec.db : null, options.writes, () =>
          writeFacts(targets, options.writes, { ...options, prefix: `bench:w${index}` }),
        ),
      );
    } finally {
      await stop();
    }
  }
  return figures;
}

const total = async (node: NodeProcess) =>
  (await node.api<{ total: number }>('GET', '/v1/facts?limit=1')).body.total;

/** One source node holding `facts` facts, pulled in turn by a node of each setup (over mTLS). */
export async function replicationFigures(
  spec: { ca: TestCa; root: string; db: PrivatePostgres },
  facts: number,
): Promise<Figure[]> {
  await seedFacts(join(spec.root, 'source'), testUri('source'), facts);
  const source = await startNodeProcess({ name: 'source', ca: spec.ca, root: spec.root, env: SLOW_PULL });
  const figures: Figure[] = [];
  try {
    for (const [index, setup] of SETUPS.entries()) {
      const { nodes, stop } = await startSetup(setup, { ...spec, name: `pull${index}` });
      try {
        const puller = nodes[0]!;
        await addAndApprove(source, puller);
        figures.push(
          await measure(setup.label, nodes, setup.replicas ? spec.db : null, facts, async () => {
            const started = performance.now();
            await addAndApprove(puller, source); // the approval starts the pull (on whichever replica leases it)
            await until('replication to finish', async () => (await total(puller)) === facts, {
              timeoutMs: 600_000,
              intervalMs: 20,
            });
            return (performance.now() - started) / 1000;
          }),
        );
      } finally {
        await stop();
      }
    }
  } finally {
    await source.stop();
  }
  return figures;
}

/** The table lines of a set of figures. */
export function formatFigures(title: string, unit: string, figures: Figure[]): string[] {
  const lines = [title];
  for (const f of figures)
    lines.push(
      `  ${f.label.padEnd(24)} ${f.rate.toFixed(0).padStart(6)} ${unit}/s   ${f.perNodeCpu.toFixed(0).padStart(6)} per node CPU-s` +
        `   (node CPU ${f.nodeCpu.toFixed(1)} s, ${f.dbCpu === null ? 'database in the node' : `database CPU ${f.dbCpu.toFixed(1)} s`})`,
    );
  return lines;
}
