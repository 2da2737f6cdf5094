// Runs an operator document's shell commands as written, against local processes: bash with `tessera` on
// the PATH and a fixed set of textual substitutions (paths, ports, the container wrapper), so a test can
// quote a document's commands verbatim and see what an operator would see.
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLI_MAIN } from './child.ts';

const TSX = import.meta.resolve('tsx');

export interface TutorialShellOptions {
  /** A scratch dir: the `tessera` wrapper goes in <root>/bin. */
  root: string;
  /** Where the document's /etc/stigmem/tls lives here. */
  tlsDir: string;
}

export interface TutorialRun {
  /** The node's environment (what the container would have). */
  env: Record<string, string>;
  /** The running node's listeners, as its node_ready event gives them ('' when none is running). */
  urls: { api: string; federation: string };
  /** Shell variables the document's commands use ($STIGMEM_ADMIN_KEY, $API_KEY…). */
  vars?: Record<string, string>;
}

export function tutorialShell(options: TutorialShellOptions) {
  const bin = join(options.root, 'bin');
  mkdirSync(bin, { recursive: true });
  writeFileSync(
    join(bin, 'tessera'),
    `#!/bin/sh\nexec "${process.execPath}" --import "${TSX}" "${CLI_MAIN}" "$@"\n`,
    { mode: 0o755 },
  );

  return async (script: string, run: TutorialRun): Promise<string> => {
    const text = substitute(script, options.tlsDir, run.urls);
    const env = { ...process.env, ...run.env, ...run.vars, PATH: `${bin}:${process.env.PATH ?? ''}` };
    const child = spawn('bash', ['-e', '-c', text], {
      env,
      cwd: options.root,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    if (code !== 0)
      throw new Error(`exit ${code} from:\n${text}\n--- stdout ---\n${stdout}\n--- stderr ---\n${stderr}`);
    return stdout;
  };
}

function substitute(script: string, tlsDir: string, urls: TutorialRun['urls']): string {
  const api = urls.api.replace(/\/$/, '');
  const federation = urls.federation ? new URL(urls.federation).host : 'localhost:8765';
  return (
    script
      .replaceAll('/etc/stigmem/tls', tlsDir)
      .replaceAll('localhost:8765', federation)
      .replaceAll('http://localhost:8000', api)
      .replaceAll('https://your-node.example.com', api)
      // `docker compose exec stigmem-node stigmem …` is the CLI in the node's environment.
      .replace(/docker compose exec stigmem-node \\?\s*\n?\s*/g, '')
      .replace(/(^|\n|;|&&|\|\|)(\s*)stigmem /g, '$1$2tessera ')
  );
}
