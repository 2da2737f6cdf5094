// The CLI's settings come from the one table: `tessera serve --help` shows every setting (flag, variable,
// default), the commands that open the node's state take the same --data-dir, and a start with several
// bad settings names all of them in one message.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { flagName } from '../../src/node/settings/read.ts';
import { SERVE_SETTINGS, SETTINGS, type Setting } from '../../src/node/settings/table.ts';
import { runCli } from '../support/child.ts';

test('tessera serve --help lists every setting of the table with its variable and default', async () => {
  const help = await runCli(['serve', '--help']);
  assert.equal(help.code, 0);
  // Commander wraps long lines at spaces.
  const stdout = help.stdout.replace(/\s+/g, ' ');
  for (const key of SERVE_SETTINGS) {
    const setting: Setting = SETTINGS[key];
    const flag = flagName(setting);
    if (flag) assert.ok(stdout.includes(setting.flag as string), `--help shows ${setting.flag}`);
    else assert.ok(setting.secret, `${key} has no flag only because it is an env-only secret`);
    assert.ok(stdout.includes(setting.env), `--help names ${setting.env}`);
    if (setting.default) assert.ok(stdout.includes(`(default ${setting.default})`), `${key} default`);
  }
});

test('the commands that open the node state take the same --data-dir (TESSERA_DATA_DIR)', async () => {
  const help = async (args: string[]) => (await runCli([...args, '--help'])).stdout.replace(/\s+/g, ' ');
  const commands = [
    ['keys', 'bootstrap'],
    ['audit', 'verify'],
    ['audit', 'export'],
    ['identity', 'rotate-key'],
    ['tlog', 'verify'],
    ['capability', 'verify'],
  ];
  const [peers, ...outputs] = await Promise.all([help(['peers', 'list']), ...commands.map(help)]);
  for (const [i, stdout] of outputs.entries())
    assert.match(
      stdout,
      /--data-dir <dir> node state: .*env TESSERA_DATA_DIR \(default \.\/tessera-data\)/,
      commands[i]?.join(' '),
    );
  assert.match(peers as string, /--api <url> .* env TESSERA_API_URL \(default http:\/\/127\.0\.0\.1:8780\)/);
  assert.match(peers as string, /Env-only .* TESSERA_API_KEY/);
  // rotate-key reads the keys where serve does, secrets included (under either name).
  assert.match(
    outputs[commands.findIndex((c) => c[0] === 'identity')] as string,
    /Env-only .*TESSERA_NODE_PRIVATE_KEY .*alias STIGMEM_NODE_PRIVATE_KEY.*TESSERA_ISSUER_PRIVATE_KEY/,
  );
});

test('tessera serve with several bad settings exits 1 naming every one in one message', async () => {
  const result = await runCli(['serve', '--api-tls', 'on'], {
    env: {
      TESSERA_ENTITY_URI: 'spiffe://test.example/node/a',
      TESSERA_FEDERATION_INSECURE: '1',
      TESSERA_API_PORT: '99999',
      TESSERA_LOG_LEVEL: 'verbose',
      TESSERA_DATA_DIR: '/nonexistent/tessera-settings-test',
    },
  });
  assert.equal(result.code, 1, result.stderr);
  assert.equal(
    result.stderr,
    [
      'tessera: 3 settings are invalid:',
      '  - TESSERA_API_PORT (--api-port) must be a port number from 0 to 65535 (got "99999")',
      '  - TESSERA_API_TLS (--api-tls) must be off, tls or mtls (got "on")',
      '  - TESSERA_LOG_LEVEL (--log-level) must be one of fatal, error, warn, info, debug, trace, silent (got "verbose")',
      '',
    ].join('\n'),
  );
});
