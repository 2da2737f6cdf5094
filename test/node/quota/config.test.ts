// The rate-limit settings: defaults, flags over variables, strict numbers, and the rules for switching
// quotas off (write AND read at 0, and only with TESSERA_RATE_LIMIT_DISABLED_ACK=1, warned at every start).
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { pino } from 'pino';
import { warnIfQuotasDisabled } from '../../../src/node/features/quotas/quotas.ts';
import { loadConfig } from '../../../src/node/settings/config.ts';
import { ConfigError, flagKey } from '../../../src/node/settings/read.ts';
import { SETTINGS } from '../../../src/node/settings/table.ts';
import { silentLogger } from '../../support/tls-peers.ts';

type Env = Record<string, string | undefined>;
const BASE: Env = {
  TESSERA_ENTITY_URI: 'spiffe://test.example/node/a',
  TESSERA_API_KEY: 'K3y-0f-the-test-node-9f8e7d6c5b4a',
  TESSERA_FEDERATION_INSECURE: '1',
};
const load = (env: Env = {}, flags: Record<string, string> = {}) =>
  loadConfig(flags, { ...BASE, ...env }, silentLogger).quotas;

function refused(env: Env, ...mentions: string[]): string {
  let message = '';
  assert.throws(
    () => load(env),
    (error: unknown) => {
      assert.ok(error instanceof ConfigError, String(error));
      message = error.message;
      return true;
    },
  );
  for (const mention of mentions) assert.ok(message.includes(mention), `"${message}" mentions ${mention}`);
  return message;
}

const W = 'TESSERA_RATE_LIMIT_WRITE_PER_HOUR';
const R = 'TESSERA_RATE_LIMIT_READ_PER_HOUR';
const ACK = 'TESSERA_RATE_LIMIT_DISABLED_ACK';

test('defaults: 1000 writes, 5000 reads, 36000 federation pulls, 600 admin calls per hour, burst 100; on', () => {
  assert.deepEqual(load(), {
    writePerHour: 1000,
    readPerHour: 5000,
    federationPullPerHour: 36000,
    adminPerHour: 600,
    burst: 100,
    disabled: false,
  });
});

test('each rate is an env variable and a flag, and the flag wins', () => {
  assert.deepEqual(
    load(
      {
        [W]: '10',
        [R]: '20',
        TESSERA_RATE_LIMIT_FEDERATION_PULL_PER_HOUR: '30',
        TESSERA_RATE_LIMIT_ADMIN_PER_HOUR: '40',
        TESSERA_RATE_LIMIT_BURST: '5',
      },
      { rateLimitWritePerHour: '11', rateLimitBurst: '6' },
    ),
    {
      writePerHour: 11,
      readPerHour: 20,
      federationPullPerHour: 30,
      adminPerHour: 40,
      burst: 6,
      disabled: false,
    },
  );
  refused({ TESSERA_RATE_LIMIT_BURST: '0' }, 'TESSERA_RATE_LIMIT_BURST', '--rate-limit-burst', 'from 1');
  assert.equal(flagKey(SETTINGS.rateLimitRead), 'rateLimitReadPerHour');
});

test('a rate must be a whole number from 0 to 10 000 000; the message names the variable and the flag', () => {
  for (const bad of ['1.5', '-1', 'abc', '1e3', '10000001'])
    refused({ [W]: bad }, W, '--rate-limit-write-per-hour', `"${bad}"`);
  refused(
    { TESSERA_RATE_LIMIT_ADMIN_PER_HOUR: 'x' },
    'TESSERA_RATE_LIMIT_ADMIN_PER_HOUR',
    '--rate-limit-admin-per-hour',
  );
});

test('a single 0 (write or read) is refused: it would silently remove one limit', () => {
  refused({ [W]: '0' }, W, R, 'only be 0 together');
  refused({ [R]: '0', [ACK]: '1' }, W, R, 'only be 0 together');
});

test('write and read at 0 need TESSERA_RATE_LIMIT_DISABLED_ACK=1, then every quota is off', () => {
  refused({ [W]: '0', [R]: '0' }, ACK, '--rate-limit-disabled-ack');
  refused({ [W]: '0', [R]: '0', [ACK]: 'yes' }, ACK);
  assert.equal(load({ [W]: '0', [R]: '0', [ACK]: '1' }).disabled, true);
  assert.equal(
    load({ [W]: '0', [R]: '0', [ACK]: 'true', TESSERA_RATE_LIMIT_ADMIN_PER_HOUR: '0' }).disabled,
    true,
    'other rates may be 0 too once everything is off',
  );
});

test('the ACK alone does not switch anything off; federation and admin need at least 1 while quotas are on', () => {
  assert.equal(load({ [ACK]: '1' }).disabled, false);
  refused(
    { TESSERA_RATE_LIMIT_FEDERATION_PULL_PER_HOUR: '0' },
    'TESSERA_RATE_LIMIT_FEDERATION_PULL_PER_HOUR',
    'at least 1',
  );
  refused({ TESSERA_RATE_LIMIT_ADMIN_PER_HOUR: '0' }, 'TESSERA_RATE_LIMIT_ADMIN_PER_HOUR', 'at least 1');
});

test('disabled quotas log a SECURITY WARNING each time the node starts; enabled ones log nothing', () => {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      lines.push(JSON.parse(String(chunk)));
      done();
    },
  });
  const logger = pino({ level: 'info' }, sink);
  warnIfQuotasDisabled(load(), logger);
  assert.equal(lines.length, 0);
  const off = load({ [W]: '0', [R]: '0', [ACK]: '1' });
  warnIfQuotasDisabled(off, logger);
  warnIfQuotasDisabled(off, logger);
  assert.equal(lines.length, 2);
  assert.equal(lines[0]?.level, 40);
  assert.equal(lines[0]?.event, 'quotas_disabled');
  assert.match(String(lines[0]?.msg), /^SECURITY WARNING: per-principal quotas are DISABLED/);
});
