// loadConfig(flags, env): every TESSERA_* setting is validated at start, a flag wins over its variable, and
// each refusal is typed and names the setting by its env variable AND its flag. The insecure gates of rule 7
// are evaluateFederationSecurity's (their TLS_* codes); API keys never appear in an error.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Writable } from 'node:stream';
import { describe, test } from 'node:test';
import { pino } from 'pino';
import { loadConfig, type NodeConfig } from '../../src/node/settings/config.ts';
import { ConfigError, flagName } from '../../src/node/settings/read.ts';
import { SETTINGS, type Setting } from '../../src/node/settings/table.ts';
import { TlsError, type TlsErrorCode } from '../../src/tls/errors.ts';
import { tempDir } from '../support/pki.ts';
import { silentLogger } from '../support/tls-peers.ts';

type Env = Record<string, string | undefined>;
type Flags = Record<string, string | undefined>;

const KEY = 'K3y-0f-the-test-node-9f8e7d6c5b4a';
const ENTITY = 'spiffe://test.example/node/a';
// loadConfig only checks that the TLS paths are given; the files are read (rule 1) when the node starts.
const TLS: Env = {
  TESSERA_TLS_CERT_PATH: '/etc/tessera/tls/node.crt',
  TESSERA_TLS_KEY_PATH: '/etc/tessera/tls/node.key',
  TESSERA_TLS_CA_BUNDLE: '/etc/tessera/tls/ca.crt',
};
const NO_TLS: Env = {
  TESSERA_TLS_CERT_PATH: undefined,
  TESSERA_TLS_KEY_PATH: undefined,
  TESSERA_TLS_CA_BUNDLE: undefined,
};
const BASE: Env = { TESSERA_ENTITY_URI: ENTITY, TESSERA_API_KEY: KEY, ...TLS };

const load = (env: Env = {}, flags: Flags = {}): NodeConfig =>
  loadConfig(flags, { ...BASE, ...env }, silentLogger);

/** Asserts a ConfigError naming the setting by env variable and flag (and matching `also`, if given). */
function refused(fn: () => unknown, setting: Setting, also?: RegExp): ConfigError {
  let caught: unknown;
  assert.throws(fn, (error: unknown) => {
    caught = error;
    return true;
  });
  assert.ok(caught instanceof ConfigError, `expected a ConfigError, got ${String(caught)}`);
  assert.equal(caught.code, 'CONFIG_INVALID');
  assert.ok(caught.message.includes(setting.env), `"${caught.message}" names ${setting.env}`);
  const flag = flagName(setting);
  if (flag) assert.ok(caught.message.includes(flag), `"${caught.message}" names ${flag}`);
  if (also) assert.match(caught.message, also);
  return caught;
}

/** Asserts a TlsError of the insecure gates with its code, naming every setting given (env and flag). */
function gateRefused(fn: () => unknown, code: TlsErrorCode, settings: Setting[]): TlsError {
  let caught: unknown;
  assert.throws(fn, (error: unknown) => {
    caught = error;
    return true;
  });
  assert.ok(caught instanceof TlsError, `expected a TlsError, got ${String(caught)}`);
  assert.equal(caught.code, code);
  assert.ok(caught.message.startsWith(`${code}: `));
  for (const setting of settings) {
    assert.ok(caught.message.includes(setting.env), `"${caught.message}" names ${setting.env}`);
    const flag = flagName(setting) ?? '';
    assert.ok(caught.message.includes(flag), `"${caught.message}" names ${flag}`);
  }
  return caught;
}

describe('loadConfig: defaults and precedence', () => {
  test('with only the required settings, every default of DESIGN.md applies', () => {
    const config = load();
    assert.equal(config.entityUri, ENTITY);
    assert.equal(config.dataDir, resolve('./tessera-data'));
    assert.equal(config.federationHost, '127.0.0.1');
    assert.equal(config.federationPort, 8765);
    assert.equal(config.apiHost, '127.0.0.1');
    assert.equal(config.apiPort, 8780);
    assert.deepEqual(config.federation, {
      mode: 'mtls',
      certPath: TLS.TESSERA_TLS_CERT_PATH,
      keyPath: TLS.TESSERA_TLS_KEY_PATH,
      caPath: TLS.TESSERA_TLS_CA_BUNDLE,
    });
    assert.equal(config.apiTls, 'off');
    assert.equal(config.apiBehindTrustedProxy, false);
    assert.equal(config.authRequired, true);
    assert.equal(config.apiKey, KEY);
    assert.equal(config.pullIntervalMs, 30_000);
    assert.equal(config.wakeDebounceMs, 50);
    assert.equal(config.reforward, false);
    assert.equal(config.logLevel, 'info');
  });

  test('a flag wins over its variable, and the overridden variable is not even validated', () => {
    const config = load(
      {
        TESSERA_ENTITY_URI: 'spiffe://test.example/node/from-env',
        TESSERA_API_PORT: 'not-a-port',
        TESSERA_FEDERATION_PORT: '7000',
        TESSERA_LOG_LEVEL: 'verbose',
        TESSERA_DATA_DIR: '/var/lib/from-env',
      },
      {
        entityUri: 'spiffe://test.example/node/from-flag',
        apiPort: '9001',
        federationPort: '9000',
        logLevel: 'debug',
        dataDir: '/var/lib/from-flag',
      },
    );
    assert.equal(config.entityUri, 'spiffe://test.example/node/from-flag');
    assert.equal(config.apiPort, 9001);
    assert.equal(config.federationPort, 9000);
    assert.equal(config.logLevel, 'debug');
    assert.equal(config.dataDir, '/var/lib/from-flag');
    assert.equal(config.nodeUrl, 'https://127.0.0.1:9000');
  });

  test('an invalid flag is refused even when its variable is valid', () => {
    refused(() => load({ TESSERA_API_PORT: '8780' }, { apiPort: '80000' }), SETTINGS.apiPort);
  });

  test('surrounding blanks are trimmed and a blank value means "unset"', () => {
    const config = load({ TESSERA_API_PORT: ' 8781 ', TESSERA_LOG_LEVEL: '  ' });
    assert.equal(config.apiPort, 8781);
    assert.equal(config.logLevel, 'info');
  });
});

describe('loadConfig: identity and addresses', () => {
  test('TESSERA_ENTITY_URI is required (missing or blank)', () => {
    refused(() => load({ TESSERA_ENTITY_URI: undefined }), SETTINGS.entityUri, /is required/);
    refused(() => load({ TESSERA_ENTITY_URI: '   ' }), SETTINGS.entityUri, /is required/);
  });

  test('the entity URI must be an identity URI, not an http(s) URL or a bare word', () => {
    for (const bad of ['https://node-a.example.org', 'http://127.0.0.1:8765']) {
      refused(
        () => load({ TESSERA_ENTITY_URI: bad }),
        SETTINGS.entityUri,
        /must be an identity URI .*not a URL to reach the node/,
      );
    }
    refused(() => load({ TESSERA_ENTITY_URI: 'node-a' }), SETTINGS.entityUri, /must be an absolute URI/);
    refused(() => load({}, { entityUri: 'https://node-a.example.org' }), SETTINGS.entityUri);
    assert.equal(load({ TESSERA_ENTITY_URI: 'urn:example:node:a' }).entityUri, 'urn:example:node:a');
  });

  test('ports are whole numbers from 0 to 65535, for both listeners', () => {
    for (const setting of [SETTINGS.federationPort, SETTINGS.apiPort]) {
      for (const bad of ['65536', '-1', '80.5', '1e3', 'http', '0x50']) {
        refused(
          () => load({ [setting.env]: bad }),
          setting,
          new RegExp(`from 0 to 65535 \\(got "${bad}"\\)`),
        );
      }
    }
    const config = load({ TESSERA_FEDERATION_PORT: '0', TESSERA_API_PORT: '65535' });
    assert.equal(config.federationPort, 0);
    assert.equal(config.apiPort, 65535);
  });

  test('nodeUrl is derived from the federation bind when TESSERA_NODE_URL is unset', () => {
    assert.equal(load().nodeUrlFromBind, true);
    assert.equal(load({ TESSERA_FEDERATION_PORT: '9443' }).nodeUrl, 'https://127.0.0.1:9443');
    assert.equal(load({ TESSERA_FEDERATION_HOST: '::1' }).nodeUrl, 'https://[::1]:8765');
    assert.equal(load({ TESSERA_FEDERATION_HOST: 'localhost' }).nodeUrl, 'https://localhost:8765');
    // A wildcard bind is not an address to advertise: loopback stands in.
    assert.equal(load({ TESSERA_FEDERATION_HOST: '0.0.0.0' }).nodeUrl, 'https://127.0.0.1:8765');
    assert.equal(load({ TESSERA_FEDERATION_HOST: '::' }).nodeUrl, 'https://127.0.0.1:8765');
    // Port 0 stays 0 here; the node fills in the real port once it listens (nodeUrlFromBind).
    const any = load({ TESSERA_FEDERATION_PORT: '0' });
    assert.equal(any.nodeUrl, 'https://127.0.0.1:0');
    assert.equal(any.nodeUrlFromBind, true);
  });

  test('TESSERA_NODE_URL must be an origin with the scheme of the federation transport', () => {
    const given = load({ TESSERA_NODE_URL: 'https://node-a.example.org:8765/' });
    assert.equal(given.nodeUrl, 'https://node-a.example.org:8765');
    assert.equal(given.nodeUrlFromBind, false);
    refused(
      () => load({ TESSERA_NODE_URL: 'http://node-a.example.org:8765' }),
      SETTINGS.nodeUrl,
      /must use https:\/\//,
    );
    for (const bad of [
      'https://node-a.example.org:8765/federation',
      'https://node-a.example.org:8765/?x=1',
      'https://node-a.example.org:8765/#top',
    ]) {
      refused(() => load({ TESSERA_NODE_URL: bad }), SETTINGS.nodeUrl, /must be an origin only/);
    }
    // Credentials are refused before the URL is logged or echoed anywhere, and never shown.
    for (const bad of [
      'https://operator@node-a.example.org:8765',
      'https://:s3cretpw@node-a.example.org:8765',
    ]) {
      refused(() => load({ TESSERA_NODE_URL: bad }), SETTINGS.nodeUrl, /must not contain credentials/);
      assert.throws(
        () => load({ TESSERA_NODE_URL: bad }),
        (error: Error) => !error.message.includes('s3cretpw') && !error.message.includes('operator'),
      );
    }
    refused(() => load({}, { nodeUrl: 'node-a:8765' }), SETTINGS.nodeUrl, /must use https:\/\//);
    // Insecure federation (dev only) advertises http://, and https:// is then the contradiction.
    const dev = { ...NO_TLS, TESSERA_FEDERATION_INSECURE: '1' };
    assert.equal(
      load({ ...dev, TESSERA_NODE_URL: 'http://127.0.0.1:9000' }).nodeUrl,
      'http://127.0.0.1:9000',
    );
    assert.equal(load(dev).nodeUrl, 'http://127.0.0.1:8765');
    refused(
      () => load({ ...dev, TESSERA_NODE_URL: 'https://127.0.0.1:9000' }),
      SETTINGS.nodeUrl,
      /must use http:\/\//,
    );
  });
});

describe('loadConfig: federation security goes through the rule 7 gates', () => {
  const dev = { ...NO_TLS, TESSERA_FEDERATION_INSECURE: '1' };

  test('no TLS material and no insecure switch → TLS_CONFIG_INVALID naming what is missing', () => {
    const error = gateRefused(
      () => load({ ...NO_TLS, TESSERA_TLS_CERT_PATH: '/etc/tessera/tls/node.crt' }),
      'TLS_CONFIG_INVALID',
      [SETTINGS.tlsKey, SETTINGS.tlsCa, SETTINGS.insecure],
    );
    assert.match(error.message, /federation requires mutual TLS/);
    assert.doesNotMatch(
      error.message,
      /TESSERA_TLS_CERT_PATH/,
      'the path that is set is not reported missing',
    );
  });

  test('insecure together with TLS paths contradicts itself → TLS_INSECURE_REFUSED', () => {
    gateRefused(() => load({ TESSERA_FEDERATION_INSECURE: '1' }), 'TLS_INSECURE_REFUSED', [
      SETTINGS.insecure,
    ]);
  });

  test('insecure on a non-loopback bind or advertised URL → TLS_INSECURE_REFUSED unless acknowledged twice', () => {
    const bind = gateRefused(
      () => load({ ...dev, TESSERA_FEDERATION_HOST: '0.0.0.0' }),
      'TLS_INSECURE_REFUSED',
      [SETTINGS.insecure, SETTINGS.insecureNonLoopback],
    );
    assert.match(bind.message, /bind address 0\.0\.0\.0 is not loopback/);
    const advertised = gateRefused(
      () => load({ ...dev, TESSERA_NODE_URL: 'http://node-a.example.org:8765' }),
      'TLS_INSECURE_REFUSED',
      [SETTINGS.insecure],
    );
    assert.match(advertised.message, /advertised URL node-a\.example\.org is not loopback/);
    const acknowledged = load({
      ...dev,
      TESSERA_FEDERATION_HOST: '0.0.0.0',
      TESSERA_LOCAL_DEV_ALLOW_INSECURE_NON_LOOPBACK: '1',
    });
    assert.deepEqual(acknowledged.federation, { mode: 'insecure' });
  });

  test('the second acknowledgement without the first is contradictory → TLS_CONFIG_INVALID', () => {
    gateRefused(() => load({ TESSERA_LOCAL_DEV_ALLOW_INSECURE_NON_LOOPBACK: '1' }), 'TLS_CONFIG_INVALID', [
      SETTINGS.insecureNonLoopback,
      SETTINGS.insecure,
    ]);
  });

  test('the switches take flags too, and a value other than 1/true/0/false is refused', () => {
    assert.deepEqual(load(NO_TLS, { federationInsecure: 'true' }).federation, { mode: 'insecure' });
    gateRefused(() => load(NO_TLS, { federationInsecure: 'yes' }), 'TLS_CONFIG_INVALID', [SETTINGS.insecure]);
  });

  test('an accepted insecure start warns through the given logger', async () => {
    const lines: string[] = [];
    const logger = pino(
      { level: 'warn' },
      new Writable({
        write(chunk, _encoding, done) {
          lines.push(String(chunk));
          done();
        },
      }),
    );
    const config = loadConfig({}, { ...BASE, ...dev }, logger);
    assert.equal(config.federation.mode, 'insecure');
    const events = lines.map((line) => JSON.parse(line) as { event?: string; level: number });
    assert.ok(events.some((e) => e.event === 'insecure_mode' && e.level === 40));
  });
});

describe('loadConfig: the API listener', () => {
  test('TESSERA_API_TLS is off, tls or mtls', () => {
    assert.equal(load({ TESSERA_API_TLS: 'tls' }).apiTls, 'tls');
    assert.equal(load({}, { apiTls: 'mtls' }).apiTls, 'mtls');
    for (const bad of ['on', 'TLS', 'true', 'mTLS']) {
      refused(
        () => load({ TESSERA_API_TLS: bad }),
        SETTINGS.apiTls,
        new RegExp(`must be off, tls or mtls \\(got "${bad}"\\)`),
      );
    }
  });

  test('tls or mtls on the API without the node TLS material is refused', () => {
    const dev = { ...NO_TLS, TESSERA_FEDERATION_INSECURE: '1' };
    for (const mode of ['tls', 'mtls']) {
      refused(
        () => load({ ...dev, TESSERA_API_TLS: mode }),
        SETTINGS.apiTls,
        /needs the node's TLS material \(TESSERA_TLS_CERT_PATH/,
      );
    }
  });

  test('a plaintext API on a non-loopback host is refused unless behind a trusted TLS proxy', () => {
    for (const host of ['0.0.0.0', '::', '10.0.0.5', 'api.example.org']) {
      refused(
        () => load({ TESSERA_API_HOST: host }),
        SETTINGS.apiTls,
        /is not loopback .*TESSERA_API_BEHIND_TRUSTED_PROXY=1/,
      );
    }
    const proxied = load({ TESSERA_API_HOST: '0.0.0.0', TESSERA_API_BEHIND_TRUSTED_PROXY: '1' });
    assert.equal(proxied.apiBehindTrustedProxy, true);
    assert.equal(load({ TESSERA_API_HOST: '0.0.0.0', TESSERA_API_TLS: 'tls' }).apiTls, 'tls');
    for (const host of ['localhost', '::1', '127.0.0.2'])
      assert.equal(load({ TESSERA_API_HOST: host }).apiHost, host);
    refused(
      () => load({ TESSERA_API_HOST: '0.0.0.0', TESSERA_API_BEHIND_TRUSTED_PROXY: 'yes' }),
      SETTINGS.apiBehindTrustedProxy,
      /must be true\/1 or false\/0 \(got "yes"\)/,
    );
  });

  test('TESSERA_AUTH_REQUIRED=false is allowed only on a loopback API', () => {
    for (const extra of [{ TESSERA_API_TLS: 'tls' }, { TESSERA_API_BEHIND_TRUSTED_PROXY: '1' }]) {
      refused(
        () => load({ TESSERA_API_HOST: '0.0.0.0', TESSERA_AUTH_REQUIRED: 'false', ...extra }),
        SETTINGS.authRequired,
        /=false is allowed only when the API listener is loopback \(it is 0\.0\.0\.0\)/,
      );
    }
    const open = load({ TESSERA_AUTH_REQUIRED: 'false', TESSERA_API_KEY: undefined });
    assert.equal(open.authRequired, false);
    assert.equal(open.apiKey, undefined);
    assert.equal(load({}, { authRequired: '0' }).authRequired, false);
    refused(
      () => load({ TESSERA_AUTH_REQUIRED: 'no' }),
      SETTINGS.authRequired,
      /must be true\/1 or false\/0/,
    );
  });
});

describe('loadConfig: the API key', () => {
  test('no static key is allowed: managed keys (tessera keys bootstrap) are the normal path', () => {
    const config = load({ TESSERA_API_KEY: undefined });
    assert.equal(config.authRequired, true);
    assert.equal(config.apiKey, undefined);
    assert.equal(load({ TESSERA_API_KEY: '   ' }).apiKey, undefined);
  });

  test('a key that is too short or has whitespace is refused, and the error never contains the key', () => {
    for (const secret of ['short-but-secret-7', 'long-enough-secret with-a-space']) {
      const error = refused(
        () => load({ TESSERA_API_KEY: secret }),
        SETTINGS.apiKey,
        /at least 24 characters without whitespace/,
      );
      assert.ok(!error.message.includes(secret), 'the key is not echoed');
      assert.ok(!error.message.includes(secret.slice(0, 8)), 'not even part of it');
    }
  });

  test('TESSERA_API_KEY_FILE (or --api-key-file) supplies the key; a short one is refused without echo', async (t) => {
    const dir = await tempDir(t);
    const good = join(dir, 'api-key');
    await writeFile(good, `${KEY}\n`, { mode: 0o600 });
    assert.equal(load({ TESSERA_API_KEY: undefined, TESSERA_API_KEY_FILE: good }).apiKey, KEY);
    assert.equal(load({ TESSERA_API_KEY: undefined }, { apiKeyFile: good }).apiKey, KEY);
    const short = join(dir, 'short-key');
    await writeFile(short, 'tiny-secret-value', { mode: 0o600 });
    const error = refused(
      () => load({ TESSERA_API_KEY: undefined, TESSERA_API_KEY_FILE: short }),
      SETTINGS.apiKeyFile,
      /at least 24 characters/,
    );
    assert.ok(!error.message.includes('tiny-secret-value'));
    const missing = join(dir, 'absent');
    refused(
      () => load({ TESSERA_API_KEY: undefined, TESSERA_API_KEY_FILE: missing }),
      SETTINGS.apiKeyFile,
      new RegExp(`cannot read ${missing.replaceAll('/', '\\/')} \\(ENOENT\\)`),
    );
  });

  test('TESSERA_API_KEY and TESSERA_API_KEY_FILE together are refused', async (t) => {
    const dir = await tempDir(t);
    const file = join(dir, 'api-key');
    await writeFile(file, KEY, { mode: 0o600 });
    const error = refused(
      () => load({ TESSERA_API_KEY_FILE: file }),
      SETTINGS.apiKeyFile,
      /set either TESSERA_API_KEY or .* not both/,
    );
    assert.ok(!error.message.includes(KEY));
    refused(() => load({}, { apiKeyFile: file }), SETTINGS.apiKeyFile, /not both/);
  });
});

describe('loadConfig: intervals and logging', () => {
  test('TESSERA_FEDERATION_PULL_INTERVAL_S is 0.05 to 86400 seconds', () => {
    assert.equal(load({ TESSERA_FEDERATION_PULL_INTERVAL_S: '0.05' }).pullIntervalMs, 50);
    assert.equal(load({ TESSERA_FEDERATION_PULL_INTERVAL_S: '1.5' }).pullIntervalMs, 1500);
    assert.equal(load({ TESSERA_FEDERATION_PULL_INTERVAL_S: '86400' }).pullIntervalMs, 86_400_000);
    assert.equal(load({}, { pullInterval: '2' }).pullIntervalMs, 2000);
    for (const bad of ['0.04', '0', '86401', '-1', '1e3', 'soon']) {
      refused(
        () => load({ TESSERA_FEDERATION_PULL_INTERVAL_S: bad }),
        SETTINGS.pullInterval,
        /must be a number of seconds from 0\.05 to 86400/,
      );
    }
  });

  test('TESSERA_FEDERATION_WAKE_DEBOUNCE_MS is whole milliseconds from 0 to 60000', () => {
    assert.equal(load({ TESSERA_FEDERATION_WAKE_DEBOUNCE_MS: '0' }).wakeDebounceMs, 0);
    assert.equal(load({ TESSERA_FEDERATION_WAKE_DEBOUNCE_MS: '60000' }).wakeDebounceMs, 60_000);
    assert.equal(load({}, { wakeDebounceMs: '10' }).wakeDebounceMs, 10);
    for (const bad of ['60001', '1.5', '-5', 'fast']) {
      refused(
        () => load({ TESSERA_FEDERATION_WAKE_DEBOUNCE_MS: bad }),
        SETTINGS.wakeDebounce,
        /must be whole milliseconds from 0 to 60000/,
      );
    }
  });

  test('TESSERA_LOG_LEVEL is a pino level', () => {
    for (const level of ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
      assert.equal(load({ TESSERA_LOG_LEVEL: level }).logLevel, level);
    for (const bad of ['verbose', 'INFO', '30']) {
      refused(() => load({ TESSERA_LOG_LEVEL: bad }), SETTINGS.logLevel, /must be one of fatal, error/);
    }
  });

  test('TESSERA_FEDERATION_REFORWARD is a boolean', () => {
    assert.equal(load({ TESSERA_FEDERATION_REFORWARD: '1' }).reforward, true);
    refused(() => load({ TESSERA_FEDERATION_REFORWARD: 'sometimes' }), SETTINGS.reforward);
  });
});
