// Launches the real CLI (`node --import tsx src/cli/main.ts …`: the source, so tests need no build) as a
// child process and lets tests wait for what it prints: pino JSON lines on stdout, messages on stderr, and
// its exit. bin/tessera.js runs the built copy of the same file; test/package covers that path.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

export const CLI_MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
// Resolved here, not by the child, so a test may run the CLI with any working directory.
const TSX = import.meta.resolve('tsx');

export interface CliProcess {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Parsed JSON lines seen on stdout so far. */
  events(): Record<string, unknown>[];
  /** Resolves with the first stdout JSON line matching the predicate (already seen or future). */
  waitForEvent(
    match: (event: Record<string, unknown>) => boolean,
    timeoutMs?: number,
  ): Promise<Record<string, unknown>>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stop(): Promise<void>;
}

export interface CliOptions {
  env?: Record<string, string>;
  cwd?: string;
  /** Written to the child's stdin, which is then closed (default: no stdin). */
  input?: string;
  /** A command that runs the CLI's node process, e.g. `['strace', '-f', …]`. */
  wrapper?: string[];
  /** A built CLI entry (JavaScript, what the package ships) run by plain node instead of the source through tsx. */
  main?: string;
}

export function startCli(args: string[], options: CliOptions = {}): CliProcess {
  const [file, ...wrapperArgs] = [...(options.wrapper ?? []), process.execPath];
  const main = options.main ? [options.main] : ['--import', TSX, CLI_MAIN];
  const child = spawn(file!, [...wrapperArgs, ...main, ...args], {
    cwd: options.cwd,
    env: { ...process.env, TESSERA_LOG_LEVEL: 'debug', ...options.env },
    stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
  });
  if (options.input !== undefined) child.stdin?.end(options.input);
  let out = '';
  let err = '';
  const parsed: Record<string, unknown>[] = [];
  const waiters: {
    match: (e: Record<string, unknown>) => boolean;
    resolve: (e: Record<string, unknown>) => void;
  }[] = [];
  let partial = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    out += chunk;
    partial += chunk;
    const lines = partial.split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      let event: Record<string, unknown>;
      try {
        event = JSON.parse(line);
      } catch {
        continue;
      }
      parsed.push(event);
      for (const waiter of [...waiters]) {
        if (waiter.match(event)) {
          waiters.splice(waiters.indexOf(waiter), 1);
          waiter.resolve(event);
        }
      }
    }
  });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    err += chunk;
  });
  const exited = once(child, 'exit').then(([code, signal]) => ({
    code: code as number | null,
    signal: signal as NodeJS.Signals | null,
  }));
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    events: () => parsed,
    exited,
    waitForEvent(match, timeoutMs = 30_000) {
      const seen = parsed.find(match);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () =>
            reject(new Error(`no matching event within ${timeoutMs} ms; stdout:\n${out}\nstderr:\n${err}`)),
          timeoutMs,
        );
        const waiter = {
          match,
          resolve: (event: Record<string, unknown>) => {
            clearTimeout(timer);
            resolve(event);
          },
        };
        waiters.push(waiter);
        void exited.then(() => {
          if (waiters.includes(waiter)) {
            clearTimeout(timer);
            reject(new Error(`process exited before a matching event; stdout:\n${out}\nstderr:\n${err}`));
          }
        });
      });
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await exited;
      }
    },
  };
}

/** Runs the CLI to completion. */
export async function runCli(args: string[], options: CliOptions = {}) {
  const proc = startCli(args, options);
  const { code } = await proc.exited;
  return { code, stdout: proc.stdout(), stderr: proc.stderr() };
}
