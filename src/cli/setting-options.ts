// Commander options from the settings table: a command takes the settings it needs (the same flags, env
// names, schemas and defaults as `tessera serve`) and parses them with the same readers.
import { type Command, Option } from 'commander';
import { aliasOf } from '../node/settings/aliases.ts';
import { type Flags, parseSettings } from '../node/settings/read.ts';
import { SETTINGS, type Setting, type SettingKey, type SettingValues } from '../node/settings/table.ts';

/** `<help>; env <NAME> (default <value>)`: what --help shows for a setting's flag. */
export function optionHelp(setting: Setting): string {
  const fallback = setting.default ?? setting.defaultText?.replaceAll('`', '');
  const alias = aliasOf(setting);
  const env = alias ? `${setting.env} or ${alias}` : setting.env;
  return `${setting.help.replaceAll('`', '')}; env ${env}${fallback ? ` (default ${fallback})` : ''}`;
}

/** Adds the flags of the chosen settings (env-only secrets have none: they are listed after the options). */
export function addSettingOptions(command: Command, keys: readonly SettingKey[]): Command {
  const secrets: Setting[] = [];
  for (const key of keys) {
    const setting: Setting = SETTINGS[key];
    if (setting.flag) command.addOption(new Option(setting.flag, optionHelp(setting)));
    else secrets.push(setting);
  }
  if (secrets.length > 0)
    command.addHelpText(
      'after',
      `\nEnv-only (never a flag: it would show in \`ps\`):\n${secrets
        .map(
          (s) =>
            `  ${s.env.padEnd(26)} ${optionHelp(s).replace(`; env ${s.env} or `, '; alias ').replace(`; env ${s.env}`, '')}`,
        )
        .join('\n')}\n`,
    );
  return command;
}

/** The chosen settings from the command's flags and the process environment; one ConfigError lists every problem. */
export function commandSettings<K extends SettingKey>(keys: readonly K[], flags: object): SettingValues<K> {
  return parseSettings(keys, flags as Flags, process.env);
}
