// Tessera nodes and reference servers for the benchmark: each started process is tracked (stopped on exit,
// error or Ctrl-C, bench/procs.ts) and pinned to the server core. With BENCH_PROFILE_DIR set, every
// `tessera serve` writes a V8 CPU profile there when it stops (bench/cpu-profile-preload.mjs, through
// NODE_OPTIONS), and so does each reference server of this folder.

import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type NodeProcess, type NodeSpec, startNodeProcess } from '../test/support/node-process.ts';
import { acceptsConnections, freePort } from '../test/support/private-server.ts';
import { buildCli } from './build.ts';
import { pin, type Spawned, spawnServer, track, untrack } from './procs.ts';

const PROFILE_DIR = process.env.BENCH_PROFILE_DIR;
const TSX = import.meta.resolve('tsx');
const here = (file: string) => fileURLToPath(new URL(file, import.meta.url));

const profiled = new Set<number>();
/** The built CLI every node of this run starts from (built once, on first use); BENCH_SOURCE=1 runs the source. */
let builtMain: string | undefined;
const cliMain = () => {
  if (process.env.BENCH_SOURCE === '1') return undefined;
  builtMain ??= buildCli();
  return builtMain;
};

/** The environment that makes a Node process profile itself into PROFILE_DIR/<name>. */
function profileEnv(name: string): Record<string, string> {
  const preload = new URL('cpu-profile-preload.mjs', import.meta.url).href;
  return {
    NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import ${preload}`.trim(),
    BENCH_CPU_PROF_DIR: join(PROFILE_DIR as string, name),
  };
}

/** Restarts the profiles of the given servers (those profiled): what follows is the measured load. */
export function restartProfiles(pids: number[]): void {
  for (const pid of pids)
    if (profiled.has(pid))
      try {
        process.kill(pid, 'SIGUSR2');
      } catch {
        // gone
      }
}

/** Pulls only when woken (or approved): the periodic pull would blur the figures. */
export const SLOW_PULL = { TESSERA_FEDERATION_PULL_INTERVAL_S: '3600' };

/**
 * `tessera serve` (startNodeProcess), tracked and pinned (to the servers' core 0 unless `core` says
 * otherwise); `profile` names its CPU profile directory.
 */
export async function startNode(spec: NodeSpec & { profile?: string; core?: 0 | 1 }): Promise<NodeProcess> {
  const { profile, core = 0, ...rest } = spec;
  const env: Record<string, string> = { ...SLOW_PULL, ...rest.env };
  if (PROFILE_DIR && profile) Object.assign(env, profileEnv(profile));
  const main = cliMain();
  const node = await startNodeProcess({ ...rest, env, ...(main ? { main } : {}) });
  const pid = node.proc.child.pid;
  track(pid);
  pin(pid, core);
  if (PROFILE_DIR && profile && pid !== undefined) profiled.add(pid);
  return {
    ...node,
    async stop() {
      await node.stop();
      untrack(pid);
    },
  };
}

/** A TypeScript reference server of this folder, run by node + tsx; resolves once it printed its port. */
export async function startReference(
  file: string,
  args: string[],
): Promise<{ port: number; server: Spawned }> {
  const env = PROFILE_DIR ? { ...process.env, ...profileEnv(file.replace(/\.ts$/, '')) } : process.env;
  const server = spawnServer(process.execPath, ['--import', TSX, here(file), ...args], env);
  if (PROFILE_DIR) profiled.add(server.pid);
  try {
    return { port: Number(await server.firstLine), server };
  } catch (error) {
    await server.stop();
    throw error;
  }
}

/** Resolves once 127.0.0.1:port accepts connections (bounded). */
async function listening(port: number, server: Spawned, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await acceptsConnections(port)) return;
    if (server.child.exitCode !== null || Date.now() > deadline)
      throw new Error(`nginx is not listening on ${port}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Debian's nginx as a third handshake reference (TLS 1.3, client certificate required), or undefined. */
export async function startNginx(
  dir: string,
  material: { certPath: string; keyPath: string; caPath: string },
): Promise<{ port: number; server: Spawned } | undefined> {
  const binary = ['/usr/sbin/nginx', '/usr/local/sbin/nginx', '/usr/bin/nginx'].find((path) =>
    existsSync(path),
  );
  if (!binary) return undefined;
  const port = await freePort();
  const conf = join(dir, 'nginx.conf');
  await writeFile(
    conf,
    [
      'master_process off;',
      'worker_processes 1;',
      `pid ${join(dir, 'nginx.pid')};`,
      'error_log stderr error;',
      'events { worker_connections 256; }',
      'http {',
      '  access_log off;',
      ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `  ${t}_temp_path ${join(dir, t)};`),
      '  server {',
      `    listen 127.0.0.1:${port} ssl;`,
      '    ssl_protocols TLSv1.3;',
      `    ssl_certificate ${material.certPath};`,
      `    ssl_certificate_key ${material.keyPath};`,
      `    ssl_client_certificate ${material.caPath};`,
      '    ssl_verify_client on;',
      '    ssl_session_tickets off;',
      '    ssl_session_cache off;',
      '    location / { return 204; }',
      '  }',
      '}',
      '',
    ].join('\n'),
  );
  const server = spawnServer(binary, ['-p', dir, '-c', conf, '-e', 'stderr', '-g', 'daemon off;']);
  try {
    await listening(port, server);
  } catch (error) {
    await server.stop();
    throw error;
  }
  return { port, server };
}
