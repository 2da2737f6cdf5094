// After `tsc` built dist/: copies every `assets/` folder under src/ (files the code reads at run time,
// e.g. the status page's HTML, script and stylesheet) to the same place under dist/, which tsc does not.
// Usage: node scripts/copy-assets.mjs [OUT_DIR]   (run by `npm run build`; OUT_DIR defaults to dist/)
import { cpSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const src = join(root, 'src');
const dist = process.argv[2] ?? join(root, 'dist');

function assetDirs(dir) {
  return readdirSync(dir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .flatMap((entry) => {
      const path = join(dir, entry.name);
      return entry.name === 'assets' ? [path] : assetDirs(path);
    });
}

for (const dir of assetDirs(src)) {
  const target = join(dist, relative(src, dir));
  cpSync(dir, target, { recursive: true });
  console.log(`assets: ${relative(root, dir)} → ${relative(root, target)}`);
}
