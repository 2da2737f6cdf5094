// Starting mesh nodes as child processes and talking to their control port: used by run.ts (the
// `npm run example:mesh-cache` demo) and by the example's test.
import { type ChildProcess, spawn } from 'node:child_process';
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';

const MAIN = fileURLToPath(new URL('./main.ts', import.meta.url));
const TSX = import.meta.resolve('tsx');

export interface NodeProcess {
  name: string;
  child: ChildProcess;
  meshPort: number;
  controlPort: number;
  /** Every JSON line printed so far. */
  events: Record<string, unknown>[];
  /** Resolves with the first event (seen or future) matching; rejects at the deadline or if the process exits. */
  waitFor(
    match: (event: Record<string, unknown>) => boolean,
    timeoutMs?: number,
  ): Promise<Record<string, unknown>>;
  /** Sends one control line and resolves with the answer line. */
  command(line: string): Promise<string>;
  stop(): Promise<void>;
}

export interface NodeFiles {
  cert: string;
  key: string;
  ca: string;
}

/** Spawns `main.ts` for node `name`; resolves once it printed its ready line. */
export async function startNodeProcess(
  name: string,
  files: NodeFiles,
  extraArgs: string[] = [],
): Promise<NodeProcess> {
  const child = spawn(
    process.execPath,
    [
      '--import',
      TSX,
      MAIN,
      '--name',
      name,
      '--cert',
      files.cert,
      '--key',
      files.key,
      '--ca',
      files.ca,
      ...extraArgs,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const events: Record<string, unknown>[] = [];
  const waiters = new Set<() => void>();
  let stderr = '';
  let partial = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    const lines = (partial + chunk).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      try {
        events.push(JSON.parse(line));
      } catch {
        events.push({ event: 'unparsed', line });
      }
    }
    for (const wake of waiters) wake();
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  void exited.then(() => {
    for (const wake of waiters) wake();
  });

  const waitFor: NodeProcess['waitFor'] = (match, timeoutMs = 30_000) =>
    new Promise((resolve, reject) => {
      const check = () => {
        const found = events.find(match);
        if (found) return done(() => resolve(found));
        if (child.exitCode !== null || child.signalCode !== null)
          done(() =>
            reject(new Error(`node ${name} exited (${child.exitCode ?? child.signalCode}): ${stderr}`)),
          );
      };
      const timer = setTimeout(
        () => done(() => reject(new Error(`node ${name}: no matching event in ${timeoutMs} ms: ${stderr}`))),
        timeoutMs,
      );
      const done = (settle: () => void) => {
        clearTimeout(timer);
        waiters.delete(check);
        settle();
      };
      waiters.add(check);
      check();
    });

  const ready = await waitFor((event) => event.event === 'ready');
  const controlPort = ready.controlPort as number;
  return {
    name,
    child,
    meshPort: ready.meshPort as number,
    controlPort,
    events,
    waitFor,
    command: (line) => command(controlPort, line),
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

/** One control line on a fresh connection; resolves with the answer. */
export function command(port: number, line: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let answer = '';
    socket.setEncoding('utf8');
    socket.on('connect', () => socket.write(`${line}\n`));
    socket.on('data', (chunk: string) => {
      answer += chunk;
      if (answer.includes('\n')) {
        socket.end();
        resolve(answer.slice(0, answer.indexOf('\n')));
      }
    });
    socket.on('error', reject);
  });
}

/** Peers every node with every other one and waits until each sees all its links up. */
export async function meshTogether(nodes: NodeProcess[]): Promise<void> {
  for (const node of nodes)
    for (const other of nodes)
      if (other !== node) await node.command(`PEER ${other.name} 127.0.0.1:${other.meshPort}`);
  await Promise.all(
    nodes.flatMap((node) =>
      nodes
        .filter((other) => other !== node)
        .map((other) => node.waitFor((event) => event.event === 'peer_up' && event.peer === other.name)),
    ),
  );
}
