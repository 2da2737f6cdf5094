// README.md's configuration table is generated from the settings table; this fails when they differ.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { aliasOf } from '../../src/node/settings/aliases.ts';
import { TABLE_END, TABLE_START, withSettingsTable } from '../../src/node/settings/markdown.ts';
import { SETTINGS } from '../../src/node/settings/table.ts';

test("README's configuration table is the one generated from src/node/settings/table.ts", async () => {
  const readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8');
  assert.ok(readme.includes(TABLE_START) && readme.includes(TABLE_END), 'README has the table markers');
  assert.ok(
    readme === withSettingsTable(readme),
    "README.md's configuration table differs from src/node/settings/table.ts: run `npm run docs:settings` and commit README.md",
  );
  for (const setting of Object.values(SETTINGS)) {
    const alias = aliasOf(setting);
    // A Stigmem alias is documented in the same cell, beside the setting it sets.
    assert.ok(readme.includes(`| \`${setting.env}\`${alias ? `<br>alias \`${alias}\`` : ''} |`), setting.env);
  }
});
