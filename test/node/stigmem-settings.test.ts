// Stigmem's settings as aliases of ours (issue 12): each STIGMEM_* name sets its setting, both names with
// different values refuse to start naming both (never their values), the same value is fine; federation
// can be switched off (then TLS is optional), push follows it; the transparency log backend is only
// `local`; the database and log paths and a fixed issuer key come from their settings.
import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { describe, test } from 'node:test';
import { STIGMEM_ALIASES } from '../../src/node/settings/aliases.ts';
import { loadConfig, type NodeConfig } from '../../src/node/settings/config.ts';
import { ConfigError, settingName } from '../../src/node/settings/read.ts';
import { SETTINGS, type SettingKey } from '../../src/node/settings/table.ts';
import { TlsError } from '../../src/tls/errors.ts';
import { silentLogger } from '../support/tls-peers.ts';

type Env = Record<string, string | undefined>;

const ENTITY = 'stigmem://your-org.example.com/nodes/primary';
const ADMIN_KEY = 'stigmem-admin-key-0123456789abcdef';
const OTHER_KEY = 'another-admin-key-fedcba9876543210';
const SEED = 'AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8';
const STIGMEM_TLS: Env = {
  STIGMEM_TLS_CERT_PATH: '/etc/stigmem/tls/node.crt',
  STIGMEM_TLS_KEY_PATH: '/etc/stigmem/tls/node.key',
  STIGMEM_TLS_CA_BUNDLE: '/etc/stigmem/tls/ca.crt',
};

const load = (env: Env, flags: Record<string, string> = {}): NodeConfig =>
  loadConfig(flags, { TESSERA_ENTITY_URI: ENTITY, ...env }, silentLogger);

function refusal(fn: () => unknown): Error {
  let caught: unknown;
  assert.throws(fn, (error: unknown) => {
    caught = error;
    return true;
  });
  assert.ok(caught instanceof ConfigError || caught instanceof TlsError, String(caught));
  return caught;
}

/** A valid value for each aliased setting, and a different valid one. */
const VALUES: Record<keyof typeof STIGMEM_ALIASES, [string, string]> = {
  tlsCert: ['/tls/a.crt', '/tls/b.crt'],
  tlsKey: ['/tls/a.key', '/tls/b.key'],
  tlsCa: ['/tls/ca-a.crt', '/tls/ca-b.crt'],
  insecure: ['0', '1'],
  insecureNonLoopback: ['0', '1'],
  federationEnabled: ['true', 'false'],
  pushEnabled: ['true', 'false'],
  rateLimitWrite: ['1000', '2000'],
  rateLimitRead: ['5000', '6000'],
  apiKey: [ADMIN_KEY, OTHER_KEY],
  nodePrivateKey: [SEED, SEED.replace('A', 'B')],
  issuerPrivateKey: [SEED, SEED.replace('A', 'B')],
  dbPath: ['/data/a.db', '/data/b.db'],
  tlBackend: ['local', 'rekor'],
  tlLocalPath: ['/tl/a.jsonl', '/tl/b.jsonl'],
};

describe('STIGMEM_* names as aliases of our settings', () => {
  test('the seed environment configures the node: TLS, quotas, admin key, keys, paths', () => {
    const config = load({
      ...STIGMEM_TLS,
      STIGMEM_FEDERATION_INSECURE: '0',
      STIGMEM_RATE_LIMIT_WRITE_PER_HOUR: '10000',
      STIGMEM_RATE_LIMIT_READ_PER_HOUR: '50000',
      STIGMEM_ADMIN_KEY: ADMIN_KEY,
      STIGMEM_NODE_PRIVATE_KEY: SEED,
      STIGMEM_ISSUER_PRIVATE_KEY: SEED,
      STIGMEM_DB_PATH: '/data/stigmem.db',
      STIGMEM_TL_BACKEND: 'local',
      STIGMEM_TL_LOCAL_PATH: 'tl/stigmem-tlog.jsonl',
      STIGMEM_FEDERATION_PUSH_ENABLED: 'false',
    });
    assert.deepEqual(config.federation, {
      mode: 'mtls',
      certPath: STIGMEM_TLS.STIGMEM_TLS_CERT_PATH,
      keyPath: STIGMEM_TLS.STIGMEM_TLS_KEY_PATH,
      caPath: STIGMEM_TLS.STIGMEM_TLS_CA_BUNDLE,
    });
    assert.equal(config.quotas.writePerHour, 10000);
    assert.equal(config.quotas.readPerHour, 50000);
    assert.equal(config.apiKey, ADMIN_KEY);
    assert.equal(config.nodePrivateKey, SEED);
    assert.equal(config.issuerPrivateKey, SEED);
    assert.equal(config.dbPath, '/data/stigmem.db');
    assert.equal(config.tlogPath, resolve('tl/stigmem-tlog.jsonl'), 'relative paths resolve like ours');
    assert.equal(config.federationEnabled, true);
    assert.equal(config.pushEnabled, false);
  });

  test('defaults without any alias: database and log in the data dir, push on with federation', () => {
    const config = load({ TESSERA_FEDERATION_INSECURE: '1', TESSERA_DATA_DIR: '/var/lib/tessera' });
    assert.equal(config.dbPath, '/var/lib/tessera/tessera.db');
    assert.equal(config.tlogPath, '/var/lib/tessera/tlog.jsonl');
    assert.equal(config.pushEnabled, true);
    assert.equal(config.issuerPrivateKey, undefined);
  });

  for (const [key, alias] of Object.entries(STIGMEM_ALIASES) as [keyof typeof STIGMEM_ALIASES, string][]) {
    const setting = SETTINGS[key as SettingKey];
    const [one, other] = VALUES[key];
    test(`${alias} and ${setting.env}: different values refuse to start naming both, never the values`, () => {
      const error = refusal(() =>
        load({ TESSERA_FEDERATION_INSECURE: '1', [setting.env]: one, [alias]: other }),
      );
      assert.ok(error.message.includes(setting.env) && error.message.includes(alias), error.message);
      assert.match(
        error.message,
        /name the same setting and are both set, to different values: set only one/,
      );
      for (const value of [one, other])
        if (value.length > 5) assert.ok(!error.message.includes(value), `never echoes ${value}`);
    });
  }

  test('both names with the same value (or the same meaning: 1 and true) are fine', () => {
    const config = load({
      ...STIGMEM_TLS,
      TESSERA_TLS_CERT_PATH: STIGMEM_TLS.STIGMEM_TLS_CERT_PATH,
      TESSERA_API_KEY: ADMIN_KEY,
      STIGMEM_ADMIN_KEY: ADMIN_KEY,
      TESSERA_FEDERATION_PUSH_ENABLED: 'true',
      STIGMEM_FEDERATION_PUSH_ENABLED: '1',
    });
    assert.equal(config.apiKey, ADMIN_KEY);
    assert.equal(config.pushEnabled, true);
  });

  test('a flag wins over an alias, as over our own variable', () => {
    const config = load(
      { TESSERA_FEDERATION_INSECURE: '1', STIGMEM_RATE_LIMIT_WRITE_PER_HOUR: '10000' },
      { rateLimitWritePerHour: '20' },
    );
    assert.equal(config.quotas.writePerHour, 20);
  });

  test('a bad value given by an alias is reported under the alias (and the setting it sets)', () => {
    const error = refusal(() =>
      load({ TESSERA_FEDERATION_INSECURE: '1', STIGMEM_RATE_LIMIT_WRITE_PER_HOUR: 'lots' }),
    );
    assert.match(
      error.message,
      /^STIGMEM_RATE_LIMIT_WRITE_PER_HOUR \(alias of TESSERA_RATE_LIMIT_WRITE_PER_HOUR \(--rate-limit-write-per-hour\)\) must be a whole number/,
    );
  });

  test('a bad STIGMEM_ISSUER_PRIVATE_KEY is refused without being echoed', () => {
    const bad = 'not-a-seed-but-a-secret-anyway';
    const error = refusal(() => load({ TESSERA_FEDERATION_INSECURE: '1', STIGMEM_ISSUER_PRIVATE_KEY: bad }));
    assert.match(
      error.message,
      /STIGMEM_ISSUER_PRIVATE_KEY .*must be a base64url-encoded 32-byte Ed25519 seed/,
    );
    assert.ok(!error.message.includes(bad));
  });
});

describe('STIGMEM_FEDERATION_ENABLED / TESSERA_FEDERATION_ENABLED', () => {
  test('false: a single node that needs no TLS and no insecure flag', () => {
    const config = load({ STIGMEM_FEDERATION_ENABLED: 'false' });
    assert.equal(config.federationEnabled, false);
    assert.equal(config.pushEnabled, false, 'push follows federation');
    assert.deepEqual(config.federation, { mode: 'none' });
  });

  test('false with the TLS material: kept for a TLS API (`tls`/`mtls`)', () => {
    const config = load({ TESSERA_FEDERATION_ENABLED: 'false', ...STIGMEM_TLS, TESSERA_API_TLS: 'mtls' });
    assert.equal(config.federation.mode, 'mtls');
    assert.equal(config.apiTls, 'mtls');
  });

  test('false with only part of the TLS material, or a TLS API without it → refused', () => {
    const partial = refusal(() =>
      load({ TESSERA_FEDERATION_ENABLED: 'false', STIGMEM_TLS_CERT_PATH: '/tls/node.crt' }),
    );
    assert.match(partial.message, /give all three or none/);
    const api = refusal(() => load({ TESSERA_FEDERATION_ENABLED: 'false', TESSERA_API_TLS: 'tls' }));
    assert.match(api.message, /TESSERA_API_TLS .*needs the node's TLS material/);
  });

  test('false with push asked for → refused (contradictory settings fail closed)', () => {
    const error = refusal(() =>
      load({ STIGMEM_FEDERATION_ENABLED: 'false', STIGMEM_FEDERATION_PUSH_ENABLED: 'true' }),
    );
    assert.match(error.message, /TESSERA_FEDERATION_PUSH_ENABLED .*needs federation/);
    assert.ok(error.message.includes(settingName(SETTINGS.federationEnabled)));
  });

  test('false with the insecure flags set: accepted, the flags have nothing to open', () => {
    const config = load({ STIGMEM_FEDERATION_ENABLED: 'false', STIGMEM_FEDERATION_INSECURE: '1' });
    assert.deepEqual(config.federation, { mode: 'none' });
  });

  test('enabled (the default) without certificates refuses to start unless the insecure flag is set', () => {
    const error = refusal(() => load({ STIGMEM_FEDERATION_ENABLED: 'true' }));
    assert.ok(error instanceof TlsError);
    assert.equal(error.code, 'TLS_CONFIG_INVALID');
    assert.match(error.message, /federation requires mutual TLS/);
    assert.match(error.message, /TESSERA_TLS_CERT_PATH \(--tls-cert, or STIGMEM_TLS_CERT_PATH\)/);
    const insecure = load({ STIGMEM_FEDERATION_ENABLED: 'true', STIGMEM_FEDERATION_INSECURE: '1' });
    assert.equal(insecure.federation.mode, 'insecure');
  });
});

describe('STIGMEM_TL_BACKEND / TESSERA_TL_BACKEND', () => {
  test('local is accepted; anything else is refused saying what is supported', () => {
    assert.equal(
      load({ TESSERA_FEDERATION_INSECURE: '1', STIGMEM_TL_BACKEND: 'local' }).federationEnabled,
      true,
    );
    const error = refusal(() => load({ TESSERA_FEDERATION_INSECURE: '1', STIGMEM_TL_BACKEND: 'rekor' }));
    assert.match(
      error.message,
      /^STIGMEM_TL_BACKEND \(alias of TESSERA_TL_BACKEND \(--tl-backend\)\) must be local: the transparency log is a local hash-chained file \(TESSERA_TL_LOCAL_PATH\); external backends such as rekor are not supported \(got "rekor"\)$/,
    );
  });
});
