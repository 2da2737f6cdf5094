// deploy/seccomp/tessera-node.json as the tests use it without a container runtime: the system calls a
// process really makes, as `strace -f -c` counts them, and a small libseccomp loader (seccomp-loader.c)
// that enforces the profile on a command as a runtime would.
import { chown, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { REPO_ROOT } from './deploy.ts';
import { run } from './shell.ts';

export const SECCOMP_PROFILE = `${REPO_ROOT}deploy/seccomp/tessera-node.json`;

export interface SeccompArg {
  index: number;
  value: number;
  valueTwo?: number;
  op: string;
}

export interface SeccompRule {
  names: string[];
  action: 'SCMP_ACT_ALLOW' | 'SCMP_ACT_ERRNO' | string;
  errnoRet?: number;
  args?: SeccompArg[];
  comment?: string;
}

export interface SeccompProfile {
  defaultAction: string;
  defaultErrnoRet?: number;
  archMap?: { architecture: string; subArchitectures: string[] | null }[];
  syscalls: SeccompRule[];
}

export async function loadSeccompProfile(): Promise<SeccompProfile> {
  return JSON.parse(await readFile(SECCOMP_PROFILE, 'utf8')) as SeccompProfile;
}

/** The image's user; a root test run drops to it, so the trace is the container's (SQLite, for one, chowns as root). */
export const NODE_UID = 65532;
export const runsAsRoot = process.getuid?.() === 0;

/**
 * `strace -f -c -o FILE`: follows threads, detaches from a child at its execve (tsx's esbuild); as root,
 * under `setpriv` as uid/gid 65532 with no supplementary groups, as the container runs.
 */
export function straceWrapper(summaryFile: string): string[] {
  return [...asNodeUser(), 'strace', '-f', '-b', 'execve', '-c', '-o', summaryFile];
}

function asNodeUser(): string[] {
  return runsAsRoot ? ['setpriv', `--reuid=${NODE_UID}`, `--regid=${NODE_UID}`, '--clear-groups'] : [];
}

/** Hands a file the test wrote to the node's user (when the test runs as root). */
export async function giveToNodeUser(...paths: string[]): Promise<void> {
  if (runsAsRoot) for (const path of paths) await chown(path, NODE_UID, NODE_UID);
}

/** The system call names of an `strace -c` summary table (calls that failed included). */
export function syscallsOfSummary(summary: string): Set<string> {
  const names = new Set<string>();
  for (const line of summary.split('\n')) {
    // % time, seconds, usecs/call, calls, [errors,] syscall
    const match = /^\s*[\d.]+\s+[\d.]+\s+\d+\s+\d+\s+(?:\d+\s+)?([a-z0-9_]+)\s*$/.exec(line);
    if (match && match[1] !== 'total') names.add(match[1]!);
  }
  return names;
}

export const LOADER_SOURCE = `${REPO_ROOT}test/support/seccomp-loader.c`;

/** The profile as the loader's rules file (test/support/seccomp-loader.c documents the format). */
export function loaderRules(profile: SeccompProfile): string {
  const lines = [`default ERRNO ${profile.defaultErrnoRet ?? 1}`];
  for (const rule of profile.syscalls)
    for (const name of rule.names) {
      if (rule.action === 'SCMP_ACT_ERRNO') lines.push(`ERRNO ${rule.errnoRet} ${name}`);
      else if (rule.args?.length === 1) {
        const [arg] = rule.args;
        lines.push(
          `ALLOW_IF ${name} ${arg!.index} ${arg!.op.replace('SCMP_CMP_', '')} ${arg!.value} ${arg!.valueTwo ?? 0}`,
        );
      } else if (!rule.args) lines.push(`ALLOW ${name}`);
      else throw new Error(`${name}: the loader takes one argument condition per rule`);
    }
  return `${lines.join('\n')}\n`;
}

/**
 * Compiles the loader into `dir` against the system's libseccomp.so.2 (Debian's libseccomp2, which apt
 * itself depends on) and writes the profile's rules beside it. Throws with gcc's message if it cannot.
 */
export async function buildSeccompLoader(
  dir: string,
  profile: SeccompProfile,
): Promise<{ loader: string; rules: string }> {
  const loader = join(dir, 'seccomp-loader');
  const rules = join(dir, 'seccomp.rules');
  const built = await run('gcc', [
    '-O2',
    '-Wall',
    '-Werror',
    '-o',
    loader,
    LOADER_SOURCE,
    '-l:libseccomp.so.2',
  ]);
  if (built.code !== 0)
    throw new Error(
      `cannot build the seccomp loader (gcc and libseccomp2): ${built.spawnError ?? built.stderr}`,
    );
  await writeFile(rules, loaderRules(profile));
  return { loader, rules };
}

/** Runs a command under the profile (as uid 65532 when the test runs as root). */
export function seccompWrapper(built: { loader: string; rules: string }): string[] {
  return [...asNodeUser(), built.loader, built.rules, '--'];
}
