// `npm run bench -- --quick` runs end to end and prints every row of the performance table and the floors
// (no thresholds: figures on a shared CI machine say nothing), and an interrupted benchmark leaves no
// process behind.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { until } from '../support/reload.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const ROWS = [
  'new mTLS 1.3 handshakes',
  '`POST /v1/facts`, keep-alive mTLS, 50 connections',
  '`GET /v1/facts?entity=`',
  'replication A→B over mTLS',
  'facts A→B',
  'wake-to-visible latency',
];

function bench(args: string[], env: Record<string, string> = {}) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'bench/run.ts', ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    out += chunk;
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    err += chunk;
  });
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  return { child, exited, out: () => out, err: () => err };
}

/** Kills a child that outlived its test (the test then fails on its own assertion). */
function guard(child: ChildProcess, ms: number): NodeJS.Timeout {
  return setTimeout(() => child.kill('SIGKILL'), ms);
}

/** Alive and not a zombie. */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

test('bench --quick exits 0 and prints every row of the table', { timeout: 600_000 }, async () => {
  const run = bench(['--quick']);
  const timer = guard(run.child, 540_000);
  const [code] = await run.exited;
  clearTimeout(timer);
  const out = run.out();
  assert.equal(code, 0, `exit ${code}\nstdout:\n${out}\nstderr:\n${run.err()}`);
  assert.match(out, /\| path \| reference \| Tessera \| ratio \| target \|/);
  for (const row of ROWS)
    assert.ok(
      out.split('\n').some((line) => line.startsWith('| ') && line.includes(row)),
      `row "${row}" missing:\n${out}`,
    );
  const file = /results: (.+\.json)/.exec(out)?.[1];
  assert.ok(file, `no results file named:\n${out}`);
  const json = JSON.parse(readFileSync(file, 'utf8')) as {
    rows: unknown[];
    quick: boolean;
    results: { floors?: { unit: Record<string, number | number[]>; rows: { path: string }[] } };
  };
  assert.equal(json.quick, true);
  assert.equal(json.rows.length, ROWS.length);
  // The floors: every unit cost measured (positive), and a verdict for handshakes (against raw Node that
  // reads the client's leaf), writes, reads (also on bare Fastify) and replication.
  assert.match(
    out,
    /\| path \| target \| unavoidable work per operation \| best possible on one core \| target reachable \|/,
  );
  const floors = json.results.floors;
  assert.ok(floors, 'no floors in the results');
  for (const name of ['sign', 'verify', 'cid', 'insert', 'readPage', 'count', 'pageJson'])
    assert.ok((floors.unit[name] as number) > 0, `unit cost ${name}: ${floors.unit[name]}`);
  assert.ok((floors.unit.fsyncMs as number[]).length > 0);
  assert.deepEqual(
    floors.rows.map((r) => r.path),
    [
      'mTLS handshakes',
      'mTLS handshakes on an HTTPS listener',
      '`POST /v1/facts`',
      '`GET /v1/facts?entity=` (10 facts)',
      '`GET /v1/facts?entity=` on Fastify',
      'replication A→B',
      '1M facts A→B',
    ],
  );
  await rm(file, { force: true });
});

test('an interrupted bench stops every process it started', { timeout: 300_000 }, async () => {
  const run = bench(['--quick'], { BENCH_SECTIONS: 'handshakes', BENCH_VERBOSE: '1', BENCH_SECONDS: '60' });
  const timer = guard(run.child, 240_000);
  const pids = () => [...run.err().matchAll(/bench: started pid (\d+)/g)].map((m) => Number(m[1]));
  // The node, then the raw node:tls server: both are running once the second one is announced.
  await until('the node and the raw server', () => pids().length >= 2 || run.child.exitCode !== null, {
    timeoutMs: 180_000,
  });
  const started = pids();
  assert.ok(started.length >= 2, `the bench did not start its servers:\n${run.err()}`);
  run.child.kill('SIGINT');
  const [code] = await run.exited;
  clearTimeout(timer);
  assert.notEqual(code, 0, 'an interrupted bench does not report success');
  assert.match(run.err(), /bench: SIGINT, stopping/);
  await until('the processes to end', () => !started.some(alive), { timeoutMs: 10_000 }).catch(() => {});
  assert.deepEqual(started.filter(alive), [], 'processes the bench started are still running after SIGINT');
});
