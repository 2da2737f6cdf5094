// The README's configuration table, generated from the settings table so the two cannot drift.
// `npm run docs:settings` writes it between the markers; test/node/settings-readme.test.ts checks it.

import { aliasOf } from './aliases.ts';
import { flagName } from './read.ts';
import { SETTINGS, type Setting } from './table.ts';

export const TABLE_START = '<!-- settings-table:start -->';
export const TABLE_END = '<!-- settings-table:end -->';

const cell = (text: string) => text.replaceAll('|', '\\|');

function flagCell(setting: Setting): string {
  const flag = flagName(setting);
  if (!flag) return '— (env only)';
  return setting.scope === 'client' ? `\`${flag}\` (\`tessera peers\`)` : `\`${flag}\``;
}

/** Our variable, and beside it the Stigmem name that sets the same setting. */
function envCell(setting: Setting): string {
  const alias = aliasOf(setting);
  return alias ? `\`${setting.env}\`<br>alias \`${alias}\`` : `\`${setting.env}\``;
}

function defaultCell(setting: Setting): string {
  if (setting.default !== undefined) return `\`${setting.default}\``;
  return setting.defaultText ?? '—';
}

/** The markdown table: one row per setting, in table order. */
export function settingsMarkdown(): string {
  const rows = Object.values(SETTINGS).map(
    (setting: Setting) =>
      `| ${envCell(setting)} | ${cell(flagCell(setting))} | ${cell(setting.help)} | ${cell(defaultCell(setting))} |`,
  );
  return ['| env | flag | meaning | default |', '|---|---|---|---|', ...rows].join('\n');
}

/** `readme` with the text between the markers replaced by the generated table. */
export function withSettingsTable(readme: string): string {
  const start = readme.indexOf(TABLE_START);
  const end = readme.indexOf(TABLE_END);
  if (start < 0 || end < start) throw new Error(`README has no ${TABLE_START} … ${TABLE_END} markers`);
  return `${readme.slice(0, start + TABLE_START.length)}\n${settingsMarkdown()}\n${readme.slice(end)}`;
}
