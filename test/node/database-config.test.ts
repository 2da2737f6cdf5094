// The database settings: unset → SQLite; a postgres:// URL → PostgreSQL over verify-full TLS with the node's
// certificate and CA by default (or the given ones); `off` only for a loopback database unless the second
// acknowledgement of rule 7 is given; sslmode in the URL is refused; a password never appears in an error.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadConfig } from '../../src/node/settings/config.ts';
import { ConfigError } from '../../src/node/settings/read.ts';
import { silentLogger } from '../support/tls-peers.ts';

type Env = Record<string, string | undefined>;
const TLS: Env = {
  TESSERA_TLS_CERT_PATH: '/etc/tessera/tls/node.crt',
  TESSERA_TLS_KEY_PATH: '/etc/tessera/tls/node.key',
  TESSERA_TLS_CA_BUNDLE: '/etc/tessera/tls/ca.crt',
};
const BASE: Env = { TESSERA_ENTITY_URI: 'spiffe://test.example/node/a', ...TLS };
const load = (env: Env, flags: Record<string, string> = {}) =>
  loadConfig(flags, { ...BASE, ...env }, silentLogger);

function refusedWith(env: Env, pattern: RegExp): string {
  let message = '';
  assert.throws(
    () => load(env),
    (error: unknown) => {
      assert.ok(error instanceof ConfigError, String(error));
      message = error.message;
      return true;
    },
  );
  assert.match(message, pattern);
  return message;
}

test('unset: SQLite in the data dir', () => {
  assert.deepEqual(load({}).database, { kind: 'sqlite' });
});

test("a postgres URL: verify-full with the node's certificate, key and CA unless others are given", () => {
  const url = 'postgres://tessera:s3cret-pw@db.example.org:5432/tessera';
  const database = load({ TESSERA_DATABASE_URL: url }).database;
  assert.deepEqual(database, {
    kind: 'postgres',
    url,
    display: 'postgres://tessera:***@db.example.org:5432/tessera',
    host: 'db.example.org',
    tls: {
      mode: 'verify-full',
      caPath: '/etc/tessera/tls/ca.crt',
      certPath: '/etc/tessera/tls/node.crt',
      keyPath: '/etc/tessera/tls/node.key',
    },
  });
  const own = load(
    {
      TESSERA_DATABASE_URL: url,
      TESSERA_DATABASE_TLS_CERT_PATH: '/db/client.crt',
      TESSERA_DATABASE_TLS_KEY_PATH: '/db/client.key',
    },
    { databaseCa: '/db/ca.crt' },
  ).database;
  assert.ok(own.kind === 'postgres' && own.tls.mode === 'verify-full');
  assert.deepEqual(
    [own.tls.caPath, own.tls.certPath, own.tls.keyPath],
    ['/db/ca.crt', '/db/client.crt', '/db/client.key'],
    'the flag and the variables win over the node material',
  );
});

test('verify-full without any CA or client certificate is refused, naming what to set', () => {
  refusedWith(
    {
      TESSERA_DATABASE_URL: 'postgres://db.example.org/tessera',
      TESSERA_TLS_CA_BUNDLE: undefined,
      TESSERA_TLS_CERT_PATH: undefined,
      TESSERA_TLS_KEY_PATH: undefined,
      TESSERA_FEDERATION_INSECURE: '1',
    },
    /TESSERA_DATABASE_TLS \(--database-tls\)=verify-full needs a CA bundle[\s\S]*needs a client certificate and key/,
  );
});

test('off: allowed for a loopback database, refused for another host unless acknowledged', () => {
  const local = load({
    TESSERA_DATABASE_URL: 'postgres://127.0.0.1:5432/t',
    TESSERA_DATABASE_TLS: 'off',
  }).database;
  assert.deepEqual(local, {
    kind: 'postgres',
    url: 'postgres://127.0.0.1:5432/t',
    display: 'postgres://127.0.0.1:5432/t',
    host: '127.0.0.1',
    tls: { mode: 'off' },
  });
  refusedWith(
    { TESSERA_DATABASE_URL: 'postgres://db.example.org/t', TESSERA_DATABASE_TLS: 'off' },
    /=off is allowed only for a loopback database \(db\.example\.org is not\).*TESSERA_LOCAL_DEV_ALLOW_INSECURE_NON_LOOPBACK=1/,
  );
  const acknowledged = load({
    TESSERA_DATABASE_URL: 'postgres://db.example.org/t',
    TESSERA_DATABASE_TLS: 'off',
    TESSERA_LOCAL_DEV_ALLOW_INSECURE_NON_LOOPBACK: '1',
  }).database;
  assert.equal(acknowledged.kind === 'postgres' && acknowledged.tls.mode, 'off');
});

test('sslmode in the URL, another scheme or a bad TLS mode are refused; the password is never shown', () => {
  const secret = 'Sup3r-S3cret-Pw';
  const message = refusedWith(
    { TESSERA_DATABASE_URL: `postgres://u:${secret}@db.example.org/t?sslmode=disable` },
    /must not set sslmode: TLS is configured by TESSERA_DATABASE_TLS/,
  );
  assert.ok(!message.includes(secret));
  const other = refusedWith(
    { TESSERA_DATABASE_URL: `mysql://u:${secret}@db.example.org/t` },
    /must be a postgres:\/\/ URL \(got mysql:\/\/u:\*\*\*@db\.example\.org\/t\)/,
  );
  assert.ok(!other.includes(secret));
  const broken = refusedWith(
    { TESSERA_DATABASE_URL: `postgres://u:${secret}@[bad` },
    /must be a URL such as postgres:\/\//,
  );
  assert.ok(!broken.includes(secret));
  refusedWith(
    { TESSERA_DATABASE_URL: 'postgres://db/t', TESSERA_DATABASE_TLS: 'require' },
    /TESSERA_DATABASE_TLS.*verify-full or off/,
  );
});
