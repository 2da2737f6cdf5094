// Prints the README's configuration table, generated from src/node/settings/table.ts; with --write, rewrites the
// part of README.md between the settings-table markers in place. Runs without a build:
//   npx tsx scripts/settings-table.ts [--write]     (npm run docs:settings)
import { readFileSync, writeFileSync } from 'node:fs';
import { settingsMarkdown, withSettingsTable } from '../src/node/settings/markdown.ts';

const readme = new URL('../README.md', import.meta.url);
if (process.argv.includes('--write')) {
  writeFileSync(readme, withSettingsTable(readFileSync(readme, 'utf8')));
  process.stdout.write('README.md: configuration table regenerated from src/node/settings/table.ts\n');
} else process.stdout.write(`${settingsMarkdown()}\n`);
