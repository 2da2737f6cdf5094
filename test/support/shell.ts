// Runs the operator's own command-line tools (curl, bash scripts, yq) as child processes and reports what
// they said, never throwing: the tests judge exit codes and output the way an operator reads them.
import { execFile } from 'node:child_process';

export interface CommandResult {
  /** The exit code; null when the command was killed by a signal or could not be started. */
  code: number | null;
  stdout: string;
  stderr: string;
  /** Set when the command could not be started at all (e.g. ENOENT). */
  spawnError?: string;
}

export function run(
  file: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number; input?: string } = {},
): Promise<CommandResult> {
  return new Promise((resolve) => {
    const child = execFile(
      file,
      args,
      {
        env: options.env ?? process.env,
        cwd: options.cwd,
        timeout: options.timeoutMs ?? 120_000,
        maxBuffer: 16 * 1024 * 1024,
      },
      (error, stdout, stderr) => {
        if (!error) return resolve({ code: 0, stdout, stderr });
        const code = (error as { code?: unknown }).code;
        if (typeof code === 'number') return resolve({ code, stdout, stderr });
        resolve({
          code: null,
          stdout,
          stderr,
          ...(typeof code === 'string' ? { spawnError: `${file}: ${code}` } : {}),
        });
      },
    );
    if (options.input !== undefined) child.stdin?.end(options.input);
    else child.stdin?.end();
  });
}

/** A bash command line, as an operator types it (process substitution, `$(…)`, pipes). */
export function bash(script: string, options: Parameters<typeof run>[2] = {}): Promise<CommandResult> {
  return run('/bin/bash', ['-c', `set -euo pipefail\n${script}`], options);
}

export function curl(args: string[]): Promise<CommandResult> {
  return run('/usr/bin/curl', args, { timeoutMs: 30_000 });
}
