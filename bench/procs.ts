// Every process the benchmark starts is registered here and stopped when the benchmark ends, fails or is
// interrupted (Ctrl-C, SIGTERM): servers the bench spawns itself run detached in their own process group and
// the whole group is killed; `tessera serve` children (started by test/support) are killed by pid. Servers are
// pinned to core 0 and the benchmark's own process (the load generator) to core 1 with `taskset`, when the
// machine has it and two cores or more; otherwise nothing is pinned and nothing is said.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { cpus } from 'node:os';

interface Tracked {
  pid: number;
  /** Kill the process group (-pid), not only the process. */
  group: boolean;
}

const tracked = new Map<number, Tracked>();

function signal(entry: Tracked, sig: NodeJS.Signals): void {
  try {
    process.kill(entry.group ? -entry.pid : entry.pid, sig);
  } catch {
    // already gone
  }
}

/** Stops every tracked process now (synchronous: also safe from process.on('exit')). */
export function killAll(sig: NodeJS.Signals = 'SIGKILL'): void {
  for (const entry of tracked.values()) signal(entry, sig);
  tracked.clear();
}

let installed = false;
/** Installs the exit, SIGINT and SIGTERM handlers (once). */
export function installCleanup(): void {
  if (installed) return;
  installed = true;
  process.on('exit', () => killAll('SIGKILL'));
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const)
    process.on(sig, () => {
      process.stderr.write(`\nbench: ${sig}, stopping ${tracked.size} process(es)\n`);
      killAll('SIGTERM');
      setTimeout(() => process.exit(130), 300).unref();
      setTimeout(() => {
        killAll('SIGKILL');
        process.exit(130);
      }, 1500);
    });
}

/** Registers a process started elsewhere (a `tessera serve` child): killed by pid on exit. */
export function track(pid: number | undefined, group = false): void {
  if (pid === undefined) return;
  tracked.set(pid, { pid, group });
  // BENCH_VERBOSE=1: the pids, so a test can check that an interrupted run leaves none behind.
  if (process.env.BENCH_VERBOSE === '1') process.stderr.write(`bench: started pid ${pid}\n`);
}

export function untrack(pid: number | undefined): void {
  if (pid !== undefined) tracked.delete(pid);
}

const TASKSET = (() => {
  if (process.platform !== 'linux' || cpus().length < 2) return undefined;
  try {
    execFileSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' });
    return 'taskset';
  } catch {
    return undefined;
  }
})();

/** Whether pinning is in effect (for the report). */
export const pinning = TASKSET !== undefined;

/** Pins every thread of `pid` to `core` (new threads inherit it); silently nothing without taskset. */
export function pin(pid: number | undefined, core: 0 | 1): void {
  if (!TASKSET || pid === undefined) return;
  try {
    execFileSync(TASKSET, ['-a', '-p', '-c', String(core), String(pid)], { stdio: 'ignore' });
  } catch {
    // a process that just exited, or a kernel that refuses: run unpinned
  }
}

/** Pins a server (core 0). */
export const pinServer = (pid: number | undefined) => pin(pid, 0);
/** Pins this process, the load generator (core 1). */
export const pinLoad = () => pin(process.pid, 1);

export interface Spawned {
  child: ChildProcess;
  pid: number;
  /** The first line the process printed on stdout. */
  firstLine: Promise<string>;
  stop(): Promise<void>;
}

/** Spawns a server detached in its own process group, tracked and pinned to the server core. */
export function spawnServer(file: string, args: string[], env: NodeJS.ProcessEnv = process.env): Spawned {
  const child = spawn(file, args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'], env });
  if (child.pid === undefined) throw new Error(`cannot start ${file}`);
  const pid = child.pid;
  track(pid, true);
  pinServer(pid);
  let err = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    err = (err + chunk).slice(-4000);
  });
  const exited = once(child, 'exit');
  const firstLine = new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      out += chunk;
      const end = out.indexOf('\n');
      if (end >= 0) resolve(out.slice(0, end).trim());
    });
    void exited.then(() => reject(new Error(`${file} exited before printing its port:\n${err}`)));
  });
  firstLine.catch(() => {});
  return {
    child,
    pid,
    firstLine,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        signal({ pid, group: true }, 'SIGTERM');
        const timer = setTimeout(() => signal({ pid, group: true }, 'SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      }
      untrack(pid);
    },
  };
}
