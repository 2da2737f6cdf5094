// The deployment files as the tests read them: YAML documents through a real parser (Debian's yq), a
// kustomization's resources followed the way kustomize does (these use `resources` only), the same through
// `kubectl kustomize` when it is installed, a systemd unit's directives, an env file, and the `docker run`
// command of the deployment guide.
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { REPO_ROOT } from './deploy.ts';
import { run } from './shell.ts';

export const KUBERNETES_DIR = `${REPO_ROOT}deploy/kubernetes`;
export const SYSTEMD_DIR = `${REPO_ROOT}deploy/systemd`;
export const DEPLOYMENT_GUIDE = `${REPO_ROOT}docs/operator/deployment.md`;

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  // biome-ignore lint/suspicious/noExplicitAny: manifests are read field by field by the tests
  spec?: any;
  data?: Record<string, string>;
}

function yqMissing(spawnError: string): Error {
  return new Error(`${spawnError}: these tests parse YAML with Debian's yq (apt-get install yq)`);
}

/** Every document of a YAML file (or of `text`), as a YAML 1.1 parser reads it (0440 is octal). */
export async function yamlDocuments(file: string, text?: string): Promise<unknown[]> {
  const parsed = await run('yq', ['-s', '.', ...(text === undefined ? [file] : [])], {
    ...(text === undefined ? {} : { input: text }),
  });
  if (parsed.spawnError) throw yqMissing(parsed.spawnError);
  if (parsed.code !== 0) throw new Error(`${file} is not valid YAML: ${parsed.stderr}`);
  return (JSON.parse(parsed.stdout) as unknown[]).filter((doc) => doc !== null);
}

/** The objects a kustomization directory renders, with the file each came from (resources only). */
export async function kustomize(dir: string): Promise<{ file: string; object: K8sObject }[]> {
  const [kustomization] = (await yamlDocuments(join(dir, 'kustomization.yaml'))) as {
    kind: string;
    resources?: string[];
  }[];
  if (kustomization?.kind !== 'Kustomization') throw new Error(`${dir}: no Kustomization`);
  const keys = Object.keys(kustomization).sort();
  if (keys.join() !== 'apiVersion,kind,resources')
    throw new Error(`${dir}: these tests follow \`resources\` only, not ${keys.join(', ')}`);
  const objects: { file: string; object: K8sObject }[] = [];
  for (const resource of kustomization.resources ?? []) {
    const path = join(dir, resource);
    if ((await stat(path)).isDirectory()) objects.push(...(await kustomize(path)));
    else
      for (const object of await yamlDocuments(path))
        objects.push({ file: path, object: object as K8sObject });
  }
  return objects;
}

/** `kubectl kustomize DIR`'s objects, or null when kubectl is not installed. */
export async function kubectlKustomize(dir: string): Promise<K8sObject[] | null> {
  const rendered = await run('kubectl', ['kustomize', dir]);
  if (rendered.spawnError) return null;
  if (rendered.code !== 0) throw new Error(`kubectl kustomize ${dir}: ${rendered.stderr}`);
  return (await yamlDocuments(`kubectl kustomize ${dir}`, rendered.stdout)) as K8sObject[];
}

export type UnitFile = Map<string, [string, string][]>;

/** A systemd unit's directives by section, in order (a directive may repeat). */
export function parseUnit(text: string): UnitFile {
  const unit: UnitFile = new Map();
  let section: [string, string][] | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#') || line.startsWith(';')) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) {
      section = [];
      unit.set(header[1]!, section);
      continue;
    }
    if (!section) throw new Error(`a directive before any section: ${line}`);
    const eq = line.indexOf('=');
    if (eq < 1) throw new Error(`not a directive: ${line}`);
    section.push([line.slice(0, eq), line.slice(eq + 1)]);
  }
  return unit;
}

/** Every value of a directive in a section. */
export function directive(unit: UnitFile, section: string, key: string): string[] {
  return (unit.get(section) ?? []).filter(([k]) => k === key).map(([, v]) => v);
}

/** KEY=value lines of an env file (comments and blank lines skipped). */
export function envFileEntries(text: string): Record<string, string> {
  const lines = text.split('\n').filter((line) => line.trim() && !line.trim().startsWith('#'));
  return Object.fromEntries(
    lines.map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
  );
}

/** The `docker run` command between the guide's docker-run markers, as its words. */
export async function guideDockerRun(): Promise<string[]> {
  const guide = await readFile(DEPLOYMENT_GUIDE, 'utf8');
  const block = /<!-- docker-run:start -->\n```sh\n([\s\S]*?)```\n<!-- docker-run:end -->/.exec(guide)?.[1];
  if (!block) throw new Error('the deployment guide has no docker-run block');
  return block.replace(/\\\n/g, ' ').trim().split(/\s+/);
}
