// The benchmark measures what the package ships: the CLI compiled by tsc, run by plain node. Through tsx
// the same source carries esbuild's keep-names helper, a call on every closure a hot path creates (it
// showed in handshake profiles; the difference in rate was within this VM's noise). Built into
// node_modules/.cache, where imports still resolve to the checkout's node_modules and no tool looks, so
// `npm pack` (which rebuilds dist/) cannot race with it.
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const OUT = join(ROOT, 'node_modules', '.cache', 'tessera-bench');

/** Compiles src/ with the package's build settings into a private directory; returns the CLI entry. */
export function buildCli(): string {
  rmSync(OUT, { recursive: true, force: true });
  const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  execFileSync(
    process.execPath,
    [tsc, '-p', join(ROOT, 'tsconfig.build.json'), '--outDir', OUT, '--declaration', 'false'],
    { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] },
  );
  execFileSync(process.execPath, [join(ROOT, 'scripts', 'copy-assets.mjs'), OUT], {
    cwd: ROOT,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  return join(OUT, 'cli', 'main.js');
}
