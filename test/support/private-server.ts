// What the private PostgreSQL and MariaDB fixtures share: finding a server binary, the user a server runs
// as (database servers refuse to run as root, so under root the process is spawned with the service
// account's uid/gid), a free loopback port, and a child process the test waits on by what it logs on
// stderr and stops by pid. A child still running when the test process exits is killed, never orphaned.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { accessSync, constants, readdirSync, rmSync } from 'node:fs';
import { chown, mkdtemp, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';

/** Set (e.g. by .ci/run) to fail, not skip, the database tests when a server binary is missing. */
export const REQUIRE_DB_SERVERS = process.env['TESSERA_TEST_DB_SERVERS'] === 'required';

/** The account a server process runs as: undefined when the tests do not run as root (run as ourselves). */
export interface ServiceUser {
  name: string;
  uid: number;
  gid: number;
}

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The first directory (in order) holding an executable `name`, then PATH. */
export function findBinary(name: string, dirs: string[] = []): string | undefined {
  const path = (process.env['PATH'] ?? '').split(delimiter).filter(Boolean);
  for (const dir of [...dirs, ...path]) {
    const candidate = join(dir, name);
    if (executable(candidate)) return candidate;
  }
  return undefined;
}

/** Subdirectories of `parent` sorted by descending version number (e.g. /usr/lib/postgresql/16, 15). */
export function versionDirs(parent: string): string[] {
  try {
    return readdirSync(parent)
      .filter((entry) => /^\d+(\.\d+)?$/.test(entry))
      .sort((a, b) => Number(b) - Number(a))
      .map((entry) => join(parent, entry));
  } catch {
    return [];
  }
}

/** Under root, the first existing account of `names` (then `nobody`); otherwise undefined. */
export function serviceUser(names: string[]): ServiceUser | undefined {
  if (process.getuid?.() !== 0) return undefined;
  for (const name of [...names, 'nobody']) {
    try {
      const uid = Number(execFileSync('id', ['-u', name], { encoding: 'utf8' }).trim());
      const gid = Number(execFileSync('id', ['-g', name], { encoding: 'utf8' }).trim());
      return { name, uid, gid };
    } catch {}
  }
  throw new Error(`running as root and none of ${names.join(', ')}, nobody exists to run the server`);
}

/** Gives `path` (a file, or a directory and everything in it) to the service user; a no-op when not root. */
export async function chownTree(path: string, user: ServiceUser | undefined): Promise<void> {
  if (!user) return;
  await chown(path, user.uid, user.gid);
  if (!(await stat(path)).isDirectory()) return;
  for (const entry of await readdir(path, { withFileTypes: true, recursive: true })) {
    await chown(join(entry.parentPath, entry.name), user.uid, user.gid);
  }
}

/** Write-temp-then-rename, owned by the service user: a reloading server reads the old or the new file. */
export async function writeOwned(
  path: string,
  content: string,
  mode: number,
  user: ServiceUser | undefined,
): Promise<void> {
  const temp = `${path}.${randomBytes(4).toString('hex')}`;
  await writeFile(temp, content, { mode });
  await chownTree(temp, user);
  await rename(temp, path);
}

/** A port free on 127.0.0.1 right now (the caller retries if the server then loses the race for it). */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  await once(server, 'close');
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

/** Runs a one-shot command (initdb, install-db) as the service user; rejects with its output on failure. */
export async function runAs(user: ServiceUser | undefined, file: string, args: string[]): Promise<string> {
  const child = spawn(file, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(user ? { uid: user.uid, gid: user.gid } : {}),
  });
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    output += chunk;
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    output += chunk;
  });
  const [code] = (await once(child, 'close')) as [number | null];
  if (code !== 0) throw new Error(`${file} exited with ${code}:\n${output.slice(-4000)}`);
  return output;
}

const running = new Set<ChildProcess>();
const scratch = new Set<string>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
  for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
});

/** A temp directory that is removed by `remove()`, or at the latest when the test process exits. */
export async function serverDir(prefix: string): Promise<{ path: string; remove(): Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  scratch.add(path);
  return {
    path,
    async remove() {
      await rm(path, { recursive: true, force: true });
      scratch.delete(path);
    },
  };
}

/** A long-running server process and the lines it has written to stderr. */
export interface ServerProcess {
  readonly pid: number;
  /** Number of stderr lines so far: pass it to `waitForLine` to wait only for lines written after now. */
  lineCount(): number;
  /** Resolves with the first stderr line (from index `since`) matching `pattern`; rejects if the server exits. */
  waitForLine(pattern: RegExp, since?: number, timeoutMs?: number): Promise<string>;
  /** The last stderr lines, for error messages. */
  tail(lines?: number): string;
  /** Sends `signal` to the pid and resolves when the process has exited (SIGKILL after `timeoutMs`). */
  stop(signal: NodeJS.Signals, timeoutMs?: number): Promise<void>;
  readonly exited: Promise<void>;
}

export function launch(
  user: ServiceUser | undefined,
  file: string,
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
): ServerProcess {
  const child = spawn(file, args, {
    stdio: ['ignore', 'ignore', 'pipe'],
    env,
    ...(user ? { uid: user.uid, gid: user.gid } : {}),
  });
  if (child.pid === undefined) throw new Error(`cannot start ${file}`);
  const pid = child.pid;
  running.add(child);
  const lines: string[] = [];
  const waiters = new Set<() => void>();
  let partial = '';
  let ended = false;
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => {
      ended = true;
      running.delete(child);
      for (const wake of waiters) wake();
      resolve();
    });
  });
  child.once('error', () => {});
  // Always drained: a server blocked on a full stderr pipe would hang the test.
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    partial += chunk;
    const complete = partial.split('\n');
    partial = complete.pop() ?? '';
    lines.push(...complete);
    for (const wake of waiters) wake();
  });
  const tail = (count = 30) => lines.slice(-count).join('\n');
  return {
    pid,
    exited,
    lineCount: () => lines.length,
    tail,
    waitForLine(pattern, since = 0, timeoutMs = 60_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const line = lines.slice(since).find((l) => pattern.test(l));
          if (line !== undefined) return finish(() => resolve(line));
          if (ended) finish(() => reject(new Error(`${file} exited before logging ${pattern}:\n${tail()}`)));
        };
        const timer = setTimeout(
          () =>
            finish(() => reject(new Error(`${file} did not log ${pattern} in ${timeoutMs} ms:\n${tail()}`))),
          timeoutMs,
        );
        const finish = (settle: () => void) => {
          clearTimeout(timer);
          waiters.delete(check);
          settle();
        };
        waiters.add(check);
        check();
      });
    },
    async stop(signal, timeoutMs = 30_000) {
      if (ended) return;
      process.kill(pid, signal);
      const timer = setTimeout(() => {
        if (!ended) process.kill(pid, 'SIGKILL');
      }, timeoutMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Whether 127.0.0.1:`port` accepts a TCP connection now (the probe is closed at once). */
export function acceptsConnections(port: number): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
