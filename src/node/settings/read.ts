// Reads settings of the table from flags and an env record (both passed in: only src/cli touches
// process.env and argv). A flag wins over its variable; blanks are trimmed and a blank value means unset.
// Every problem is collected, each naming its setting, so one start reports all of them at once.
import { aliasOf } from './aliases.ts';
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

const nonBlank = (value: string | undefined) => {
  const trimmed = value?.trim();
  return trimmed === '' ? undefined : trimmed;
};

/**
 * The text a setting is given and where from: its flag, its variable, then its Stigmem alias (the two
 * variables set differently is aliasConflict's to refuse). Undefined when none of them is set.
 */
export function givenSetting(
  setting: Setting,
  flags: Flags,
  env: Env,
): { value: string; from: 'flag' | 'env' | 'alias' } | undefined {
  const key = flagKey(setting);
  const flag = key === undefined ? undefined : flags[key];
  if (flag !== undefined) {
    // A flag given blank means "unset" and still wins over the environment, as before aliases.
    const fromFlag = nonBlank(typeof flag === 'boolean' ? String(flag) : flag);
    return fromFlag === undefined ? undefined : { value: fromFlag, from: 'flag' };
  }
  const fromEnv = nonBlank(env[setting.env]);
  if (fromEnv !== undefined) return { value: fromEnv, from: 'env' };
  const alias = aliasOf(setting);
  const fromAlias = alias === undefined ? undefined : nonBlank(env[alias]);
  return fromAlias === undefined ? undefined : { value: fromAlias, from: 'alias' };
}

/** The text a setting is given (flag, then env, then its Stigmem alias, then its default); undefined when none. */
export function rawSetting(setting: Setting, flags: Flags, env: Env): string | undefined {
  return givenSetting(setting, flags, env)?.value ?? setting.default;
}

/**
 * Our variable and its Stigmem alias both set, to values that differ (as text and once parsed: `1` and
 * `true` agree): a problem naming both, never their values (either may be a secret).
 */
export function aliasConflict(setting: Setting, env: Env): string | undefined {
  const alias = aliasOf(setting);
  if (alias === undefined) return undefined;
  const [ours, theirs] = [nonBlank(env[setting.env]), nonBlank(env[alias])];
  if (ours === undefined || theirs === undefined || ours === theirs) return undefined;
  const [a, b] = [setting.schema.safeParse(ours), setting.schema.safeParse(theirs)];
  if (a.success && b.success && JSON.stringify(a.data) === JSON.stringify(b.data)) return undefined;
  return `${setting.env} and ${alias} name the same setting and are both set, to different values: set only one`;
}

/** A problem with a setting, its name in front: "NAME must be …", "NAME: …" or "NAME=value …". */
export function problem(setting: Setting, message: string, from?: 'flag' | 'env' | 'alias'): string {
  const name =
    from === 'alias' ? `${aliasOf(setting)} (alias of ${settingName(setting)})` : settingName(setting);
  return `${name}${/^[:=]/.test(message) ? '' : ' '}${message}`;
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
    const conflict = aliasConflict(setting, env);
    if (conflict) {
      problems.push(conflict);
      continue;
    }
    const given = givenSetting(setting, flags, env);
    const raw = given?.value ?? setting.default;
    const parsed = setting.schema.safeParse(raw);
    if (parsed.success) {
      values[key] = parsed.data as SettingValues<K>[K];
      continue;
    }
    for (const issue of parsed.error.issues) {
      // A secret is never shown, even if a message were to quote it.
      const message = setting.secret && raw ? issue.message.replaceAll(raw, '***') : issue.message;
      problems.push(problem(setting, message, given?.from));
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
