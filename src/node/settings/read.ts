// Reads settings of the table from flags and an env record (both passed in: only src/cli touches
// process.env and argv). A flag wins over its variable; blanks are trimmed and a blank value means unset.
// Every problem is collected, each naming its setting, so one start reports all of them at once.
import { SETTINGS, type Setting, type SettingKey, type SettingValues } from './table.ts';

export type Env = Record<string, string | undefined>;
/** Commander's parsed options: keyed by the flag's attribute name (`--data-dir <dir>` → dataDir). */
export type Flags = Record<string, string | boolean | undefined>;

/** Refused settings: one problem alone is the message; several are listed, one per line. */
export class ConfigError extends Error {
  readonly code = 'CONFIG_INVALID';
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(
      problems.length === 1
        ? (problems[0] as string)
        : `${problems.length} settings are invalid:\n${problems.map((p) => `  - ${p}`).join('\n')}`,
    );
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

/** `--data-dir` of `--data-dir <dir>`. */
export function flagName(setting: Setting): string | undefined {
  return setting.flag?.split(' ')[0];
}

/** The key commander gives the flag's value: `--data-dir <dir>` → dataDir. */
export function flagKey(setting: Setting): string | undefined {
  return flagName(setting)
    ?.replace(/^--/, '')
    .replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

/** How messages name a setting: `TESSERA_API_PORT (--api-port)`, or the variable alone when env-only. */
export function settingName(setting: Setting): string {
  const flag = flagName(setting);
  return flag ? `${setting.env} (${flag})` : setting.env;
}

/** The text a setting is given (flag first, then env, then its default); undefined when none. */
export function rawSetting(setting: Setting, flags: Flags, env: Env): string | undefined {
  const key = flagKey(setting);
  const flag = key === undefined ? undefined : flags[key];
  const given = typeof flag === 'boolean' ? String(flag) : (flag ?? env[setting.env]);
  const value = given?.trim();
  return value === undefined || value === '' ? setting.default : value;
}

/** A problem with a setting, its name in front: "NAME must be …", "NAME: …" or "NAME=value …". */
export function problem(setting: Setting, message: string): string {
  return `${settingName(setting)}${/^[:=]/.test(message) ? '' : ' '}${message}`;
}

/**
 * Parses the chosen settings. Valid ones are in the result; each invalid one adds a problem to `problems`
 * and is left out, so rules that depend on it can skip it instead of piling on.
 */
export function readSettings<K extends SettingKey>(
  keys: readonly K[],
  flags: Flags,
  env: Env,
  problems: string[],
): Partial<SettingValues<K>> {
  const values: Partial<SettingValues<K>> = {};
  for (const key of keys) {
    const setting: Setting = SETTINGS[key];
    const raw = rawSetting(setting, flags, env);
    const parsed = setting.schema.safeParse(raw);
    if (parsed.success) {
      values[key] = parsed.data as SettingValues<K>[K];
      continue;
    }
    for (const issue of parsed.error.issues) {
      // A secret is never shown, even if a message were to quote it.
      const message = setting.secret && raw ? issue.message.replaceAll(raw, '***') : issue.message;
      problems.push(problem(setting, message));
    }
  }
  return values;
}

/** Parses the chosen settings, or throws one ConfigError naming every invalid one. */
export function parseSettings<K extends SettingKey>(
  keys: readonly K[],
  flags: Flags,
  env: Env,
): SettingValues<K> {
  const problems: string[] = [];
  const values = readSettings(keys, flags, env, problems);
  if (problems.length > 0) throw new ConfigError(problems);
  return values as SettingValues<K>;
}
