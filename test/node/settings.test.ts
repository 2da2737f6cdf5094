// The settings table read as a whole: every bad setting is reported at once in one ConfigError, each by
// its variable and flag; secrets are never echoed; any subset of the table reads the same way.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { loadConfig } from '../../src/node/settings/config.ts';
import { ConfigError, flagKey, parseSettings, settingName } from '../../src/node/settings/read.ts';
import { SERVE_SETTINGS, SETTINGS } from '../../src/node/settings/table.ts';
import { silentLogger } from '../support/tls-peers.ts';

const SECRET = 'short-secret-value';

function configError(fn: () => unknown): ConfigError {
  let caught: unknown;
  assert.throws(fn, (error: unknown) => {
    caught = error;
    return true;
  });
  assert.ok(caught instanceof ConfigError, `expected a ConfigError, got ${String(caught)}`);
  return caught;
}

describe('settings: every problem at once', () => {
  test('a bad environment gives one ConfigError naming every bad setting (variable and flag)', () => {
    const env = {
      TESSERA_ENTITY_URI: 'https://node-a.example.org',
      TESSERA_API_PORT: '99999',
      TESSERA_API_TLS: 'on',
      TESSERA_LOG_LEVEL: 'verbose',
      TESSERA_FEDERATION_PULL_INTERVAL_S: 'soon',
      TESSERA_FEDERATION_REFORWARD: 'sometimes',
      TESSERA_RATE_LIMIT_ADMIN_PER_HOUR: 'x',
      TESSERA_API_KEY: SECRET,
      TESSERA_FEDERATION_INSECURE: '1',
      TESSERA_TLS_CERT_PATH: '/etc/tessera/tls/node.crt',
    };
    const error = configError(() => loadConfig({ authRequired: 'maybe' }, env, silentLogger));
    assert.equal(error.code, 'CONFIG_INVALID');
    const bad = [
      SETTINGS.entityUri,
      SETTINGS.apiPort,
      SETTINGS.apiTls,
      SETTINGS.logLevel,
      SETTINGS.pullInterval,
      SETTINGS.reforward,
      SETTINGS.rateLimitAdmin,
      SETTINGS.authRequired,
      SETTINGS.apiKey,
      SETTINGS.insecure,
    ];
    assert.equal(error.problems.length, bad.length, error.message);
    assert.match(error.message, new RegExp(`^${bad.length} settings are invalid:\n`));
    for (const setting of bad)
      assert.ok(
        error.message.includes(settingName(setting)),
        `names ${settingName(setting)}: ${error.message}`,
      );
    assert.ok(
      error.problems.some((p) => p.startsWith('TLS_INSECURE_REFUSED: ')),
      'the gate keeps its code',
    );
    assert.ok(!error.message.includes(SECRET), 'the API key is never echoed');
  });

  test('cross-setting rules are collected with the rest', () => {
    const error = configError(() =>
      loadConfig(
        {},
        {
          TESSERA_ENTITY_URI: 'spiffe://test.example/node/a',
          TESSERA_FEDERATION_INSECURE: '1',
          TESSERA_API_HOST: '0.0.0.0',
          TESSERA_AUTH_REQUIRED: 'false',
          TESSERA_RATE_LIMIT_WRITE_PER_HOUR: '0',
          TESSERA_API_PORT: 'x',
        },
        silentLogger,
      ),
    );
    assert.equal(error.problems.length, 4, error.message);
    assert.match(error.message, /TESSERA_API_PORT \(--api-port\) must be a port number/);
    assert.match(
      error.message,
      /the API listener 0\.0\.0\.0 is not loopback and TESSERA_API_TLS \(--api-tls\) is off/,
    );
    assert.match(error.message, /TESSERA_AUTH_REQUIRED \(--auth-required\)=false is allowed only/);
    assert.match(error.message, /can only be 0 together/);
  });
});

describe('settings: the table', () => {
  test('every serve setting has a flag unless it is an env-only secret; names are unique', () => {
    for (const key of SERVE_SETTINGS) {
      const setting = SETTINGS[key];
      assert.equal(setting.flag === undefined, 'secret' in setting && setting.secret === true, key);
    }
    const envs = Object.values(SETTINGS).map((s) => s.env);
    const flags = Object.values(SETTINGS).flatMap((s) => flagKey(s) ?? []);
    assert.equal(new Set(envs).size, envs.length);
    assert.equal(new Set(flags).size, flags.length);
  });

  test('a subset parses with the same schemas: flag over env, blanks are unset, the default applies', () => {
    assert.deepEqual(parseSettings(['apiUrl', 'apiKey'], {}, { TESSERA_API_KEY: '  ' }), {
      apiUrl: 'http://127.0.0.1:8780',
      apiKey: undefined,
    });
    const { dataDir } = parseSettings(['dataDir'], { dataDir: '/var/lib/flag' }, { TESSERA_DATA_DIR: '/x' });
    assert.equal(dataDir, '/var/lib/flag');
    const error = configError(() =>
      parseSettings(['apiUrl', 'apiKey'], { api: 'localhost:8780' }, { TESSERA_API_KEY: SECRET }),
    );
    assert.deepEqual(error.problems, [
      'TESSERA_API_URL (--api) must be an http:// or https:// URL (got "localhost:8780")',
      'TESSERA_API_KEY: an API key must be at least 24 characters without whitespace',
    ]);
  });
});
