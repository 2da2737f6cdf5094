// Summarises V8 CPU profiles (`node --cpu-prof`, e.g. from `BENCH_PROFILE_DIR=… npm run bench`): the top
// functions by self time and the self time per area (Tessera's src/<layer>, each npm package, Node's
// internals, native/GC), idle time left out. Usage: tsx bench/profile-summary.ts DIR_OR_FILE… [--top N]
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const args = process.argv.slice(2);
const topAt = args.indexOf('--top');
const top = topAt >= 0 ? Number(args[topAt + 1]) : 25;
const inputs = args.filter((a, i) => a !== '--top' && i !== topAt + 1);

const files = inputs.flatMap((input) =>
  statSync(input).isDirectory()
    ? readdirSync(input)
        .filter((f) => f.endsWith('.cpuprofile'))
        .map((f) => join(input, f))
    : [input],
);

/** Where a frame's code lives: src/<layer>/<file>, a package, node:internal, or a V8 pseudo-frame. */
function area(url: string, name: string): string {
  if (!url) return name.startsWith('(') ? name : '(native)';
  // The benchmark's nodes run the CLI built into node_modules/.cache/tessera-bench (bench/build.ts).
  const built = /node_modules\/\.cache\/tessera-bench\/([^/]+)\//.exec(url);
  if (built) return `src/${built[1]}`;
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return `npm:${pkg[1]}`;
  const src = /\/src\/([^/]+)\/(?:[^/]+\/)*([^/]+)$/.exec(url);
  if (src) return `src/${src[1]}`;
  if (url.startsWith('node:')) return 'node:internal';
  return url.replace(/^file:\/\//, '');
}

const selfByFrame = new Map<string, number>();
const selfByArea = new Map<string, number>();
let busy = 0;
for (const file of files) {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parentOf = new Map<number, ProfileNode>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parentOf.set(child, node);
  const label = (node: ProfileNode) => {
    const { functionName, url, lineNumber } = node.callFrame;
    const where = url
      ? `${url.replace(/^.*\/node_modules\/\.cache\/tessera-bench\//, 'src/').replace(/^.*\/(src|node_modules)\//, '$1/')}:${lineNumber + 1}`
      : '';
    return `${functionName || '(anonymous)'} ${where}`.trim();
  };
  profile.samples.forEach((id, i) => {
    const node = byId.get(id);
    const us = profile.timeDeltas[i] ?? 0;
    if (!node || node.callFrame.functionName === '(idle)') return;
    const { functionName, url } = node.callFrame;
    // A native function is named with its JavaScript caller: `run` is SQLite's statement or a crypto job.
    const caller = !url && !functionName.startsWith('(') ? parentOf.get(node.id) : undefined;
    const key = caller ? `${label(node)} ← ${label(caller)}` : label(node);
    selfByFrame.set(key, (selfByFrame.get(key) ?? 0) + us);
    const a = area(url, functionName);
    selfByArea.set(a, (selfByArea.get(a) ?? 0) + us);
    busy += us;
  });
}

const pct = (us: number) => `${((100 * us) / busy).toFixed(1).padStart(5)}%`;
console.log(`${files.length} profile(s), ${(busy / 1e6).toFixed(2)} s of non-idle samples`);
console.log('\nself time by area:');
for (const [a, us] of [...selfByArea].sort((x, y) => y[1] - x[1]).slice(0, 15))
  console.log(`  ${pct(us)}  ${a}`);
console.log(`\ntop ${top} functions by self time:`);
for (const [f, us] of [...selfByFrame].sort((x, y) => y[1] - x[1]).slice(0, top))
  console.log(`  ${pct(us)}  ${f}`);
