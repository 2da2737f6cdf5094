// Argument syntax of `tessera pki …`, checked in-process (no child process per case): every usage error
// must surface as a CommanderError (main.ts turns it into exit status 2), never as a direct process.exit.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type Command, CommanderError } from 'commander';
import { pkiCommand } from '../../src/cli/pki-command.ts';

async function parseError(args: string[]): Promise<{ error: CommanderError; stderr: string }> {
  const pki = pkiCommand();
  let stderr = '';
  const quiet = (command: Command): void => {
    command.configureOutput({
      writeErr: (text) => {
        stderr += text;
      },
      writeOut: () => {},
    });
    for (const sub of command.commands) quiet(sub);
  };
  quiet(pki);
  try {
    await pki.parseAsync(args, { from: 'user' });
  } catch (error) {
    assert.ok(error instanceof CommanderError, `expected a CommanderError, got ${String(error)}`);
    return { error, stderr };
  }
  assert.fail(`expected ${args.join(' ')} to be refused`);
}

const ISSUE = [
  'issue',
  '--ca-dir',
  'ca',
  '--out',
  'out',
  '--name',
  'n',
  '--uri',
  'spiffe://example.org/node/n',
];

test('--days accepts only a plain whole number from 1 to 36500', async () => {
  for (const days of ['0', '-3', 'abc', '1.5', '1e3', ' 7', '+5', '0x10', '36501', '']) {
    for (const verb of [ISSUE, ['init-ca', '--dir', 'ca'], ['dev', '--out', 'o', '--nodes', 'a']]) {
      const { error, stderr } = await parseError([...verb, '--days', days]);
      assert.equal(error.code, 'commander.invalidArgument', `${verb[0]} --days ${JSON.stringify(days)}`);
      assert.match(stderr, /--days must be a whole number of days from 1 to 36500/);
    }
  }
});

test('--algo must be ed25519 or p256', async () => {
  const { error, stderr } = await parseError([...ISSUE, '--algo', 'rsa']);
  assert.equal(error.code, 'commander.invalidArgument');
  assert.match(stderr, /argument 'rsa' is invalid\. Allowed choices are ed25519, p256/);
});

test('missing required options and arguments, and unknown options, are usage errors', async () => {
  const cases: [string[], string, RegExp][] = [
    [
      ['issue', '--ca-dir', 'ca', '--out', 'out', '--name', 'n'],
      'commander.missingMandatoryOptionValue',
      /--uri/,
    ],
    [['init-ca'], 'commander.missingMandatoryOptionValue', /--dir/],
    [['dev', '--out', 'o'], 'commander.missingMandatoryOptionValue', /--nodes/],
    [['inspect'], 'commander.missingArgument', /file/],
    [['init-ca', '--dir', 'ca', '--bogus'], 'commander.unknownOption', /--bogus/],
    [['frobnicate'], 'commander.unknownCommand', /frobnicate/],
  ];
  for (const [args, code, pattern] of cases) {
    const { error, stderr } = await parseError(args);
    assert.equal(error.code, code, args.join(' '));
    assert.match(stderr, pattern, args.join(' '));
  }
});
