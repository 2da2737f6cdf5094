// The Prometheus metrics the code registers, read from the source (`new Counter({ name: 'tessera_…',
// labelNames: [...] })`), so a test can check a file that names metrics without starting a node.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { REPO_ROOT } from './deploy.ts';

export interface RegisteredMetric {
  type: 'Counter' | 'Gauge' | 'Histogram' | 'Summary';
  labels: string[];
}

const DECLARATION =
  /new (Counter|Gauge|Histogram|Summary)\(\{\s*name: '(tessera_[a-z0-9_]+)',([\s\S]*?)registers/g;

async function sourceFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  const nested = await Promise.all(
    entries.map((entry) => {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) return sourceFiles(path);
      return Promise.resolve(entry.name.endsWith('.ts') ? [path] : []);
    }),
  );
  return nested.flat();
}

/** Every metric declared under src/, by name, with its type and label names. */
export async function registeredMetrics(): Promise<Map<string, RegisteredMetric>> {
  const found = new Map<string, RegisteredMetric>();
  for (const file of await sourceFiles(join(REPO_ROOT, 'src'))) {
    const text = await readFile(file, 'utf8');
    for (const [, type, name, body] of text.matchAll(DECLARATION)) {
      const list = /labelNames: \[([^\]]*)\]/.exec(body ?? '')?.[1] ?? '';
      const labels = [...list.matchAll(/'([a-z_]+)'/g)].map((m) => m[1] as string);
      found.set(name as string, { type: type as RegisteredMetric['type'], labels });
    }
  }
  return found;
}
