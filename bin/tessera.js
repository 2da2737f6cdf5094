#!/usr/bin/env node
// Runs the built CLI (dist/cli/main.js): the published package ships only JavaScript, and needs no tsx.
// A git checkout has no dist/ until `npm run build`; developers run the source with `npm run tessera -- …`.
import { existsSync } from 'node:fs';

const main = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(main)) {
  process.stderr.write(
    'tessera: dist/cli/main.js is missing: run `npm run build` first (or `npm run tessera -- …` to run the source)\n',
  );
  process.exit(1);
}
await import(main.href);
