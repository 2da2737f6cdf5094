// The deployment files under deploy/ and scripts/mtls-compose-smoke.sh, as the tests use them: paths, the
// demo certificate script, the compose file parsed by a real YAML parser (Debian's yq) with compose's
// `${VAR:-default}` interpolation applied, and the smoke script's step lines.
import { fileURLToPath } from 'node:url';
import { type CommandResult, run } from './shell.ts';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const COMPOSE_DIR = `${REPO_ROOT}deploy/compose`;
export const COMPOSE_FILE = `${COMPOSE_DIR}/docker-compose.mtls.yml`;
export const GEN_CERTS = `${COMPOSE_DIR}/generate-mtls-demo-certs.sh`;
export const DOCKERFILE = `${REPO_ROOT}deploy/Dockerfile`;
export const SMOKE_SCRIPT = `${REPO_ROOT}scripts/mtls-compose-smoke.sh`;

/** The compose services and the demo material each one mounts (generate-mtls-demo-certs.sh's names). */
export const DEMO_NODES = [
  { service: 'stigmem-a', files: 'node-a', entityUri: 'stigmem://compose.example/nodes/a' },
  { service: 'stigmem-b', files: 'node-b', entityUri: 'stigmem://compose.example/nodes/b' },
] as const;

/** Runs deploy/compose/generate-mtls-demo-certs.sh into `out`; throws with its stderr if it fails. */
export async function generateDemoCerts(out: string): Promise<void> {
  const result = await run('/bin/bash', [GEN_CERTS, out]);
  if (result.code !== 0) throw new Error(`generate-mtls-demo-certs.sh failed: ${result.stderr}`);
}

export interface ComposeService {
  image?: string;
  build?: { context: string; dockerfile: string };
  hostname?: string;
  init?: boolean;
  read_only?: boolean;
  tmpfs?: string[];
  cap_drop?: string[];
  security_opt?: string[];
  environment: Record<string, string>;
  env_file?: string[];
  volumes: { type: string; source: string; target: string; read_only?: boolean }[];
  ports: string[];
  healthcheck: { test: string[] };
}

export interface ComposeFile {
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
}

/** Compose's interpolation of `${NAME}` and `${NAME:-default}` (the only forms the file uses). */
export function interpolate(text: string, vars: Record<string, string | undefined>): string {
  return text.replace(/\$\{([A-Z0-9_]+)(?::-([^}]*))?\}/g, (_, name: string, fallback?: string) => {
    const value = vars[name];
    return value === undefined || value === '' ? (fallback ?? '') : value;
  });
}

function interpolateAll(value: unknown, vars: Record<string, string | undefined>): unknown {
  if (typeof value === 'string') return interpolate(value, vars);
  if (Array.isArray(value)) return value.map((item) => interpolateAll(item, vars));
  if (value && typeof value === 'object')
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, interpolateAll(v, vars)]));
  return value;
}

/** The compose file as a YAML parser reads it (merge keys resolved), then interpolated with `vars`. */
export async function loadCompose(vars: Record<string, string | undefined> = {}): Promise<ComposeFile> {
  const parsed = await run('yq', ['.', COMPOSE_FILE]);
  if (parsed.spawnError)
    throw new Error(`${parsed.spawnError}: these tests parse YAML with Debian's yq (apt-get install yq)`);
  if (parsed.code !== 0) throw new Error(`the compose file is not valid YAML: ${parsed.stderr}`);
  return interpolateAll(JSON.parse(parsed.stdout), vars) as ComposeFile;
}

/** `smoke: FAILED at step '…'` / `==> step` lines of the smoke script's output. */
export function smokeSteps(output: string): string[] {
  return output
    .split('\n')
    .filter((line) => line.startsWith('==> '))
    .map((line) => line.slice(4));
}

/** Runs the smoke script (with `args`) from the repository root; inherits the environment plus `env`. */
export function runSmoke(args: string[], env: Record<string, string> = {}): Promise<CommandResult> {
  return run('/bin/bash', [SMOKE_SCRIPT, ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...env },
    timeoutMs: 240_000,
  });
}

/** Whether a process with this pid still exists. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export const PROMETHEUS_RULES = `${REPO_ROOT}deploy/prometheus/tessera-alerts.yml`;

/** Any YAML file as Debian's yq reads it (JSON out); throws naming the file when it does not parse. */
export async function loadYaml(file: string): Promise<unknown> {
  const parsed = await run('yq', ['.', file]);
  if (parsed.spawnError)
    throw new Error(`${parsed.spawnError}: these tests parse YAML with Debian's yq (apt-get install yq)`);
  if (parsed.code !== 0) throw new Error(`${file} is not valid YAML: ${parsed.stderr}`);
  return JSON.parse(parsed.stdout);
}
