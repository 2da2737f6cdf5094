// Prints the operator guide's troubleshooting tables, generated from src/node/doctor/catalog.ts; with --write,
// rewrites the part of docs/operator/troubleshooting.md between the troubleshooting-table markers in place.
// Runs without a build:
//   npx tsx scripts/troubleshooting-table.ts [--write]     (npm run docs:troubleshooting)
import { readFileSync, writeFileSync } from 'node:fs';
import { troubleshootingMarkdown, withTroubleshootingTable } from '../src/node/doctor/markdown.ts';

const doc = new URL('../docs/operator/troubleshooting.md', import.meta.url);
if (process.argv.includes('--write')) {
  writeFileSync(doc, withTroubleshootingTable(readFileSync(doc, 'utf8')));
  process.stdout.write(
    'docs/operator/troubleshooting.md: tables regenerated from src/node/doctor/catalog.ts\n',
  );
} else process.stdout.write(`${troubleshootingMarkdown()}\n`);
