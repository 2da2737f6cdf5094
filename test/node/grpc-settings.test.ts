// The gRPC federation settings: off unless TESSERA_FEDERATION_GRPC_PORT is set; mutual TLS only; the host
// follows the federation host; bad values are refused naming the setting.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadConfig } from '../../src/node/settings/config.ts';
import { ConfigError } from '../../src/node/settings/read.ts';
import { silentLogger } from '../support/tls-peers.ts';

const BASE = {
  TESSERA_ENTITY_URI: 'spiffe://test.example/node/a',
  TESSERA_API_KEY: 'K3y-0f-the-test-node-9f8e7d6c5b4a',
  TESSERA_TLS_CERT_PATH: '/etc/tessera/tls/node.crt',
  TESSERA_TLS_KEY_PATH: '/etc/tessera/tls/node.key',
  TESSERA_TLS_CA_BUNDLE: '/etc/tessera/tls/ca.crt',
};
const load = (env: Record<string, string | undefined>) => loadConfig({}, { ...BASE, ...env }, silentLogger);

const refusedWith = (env: Record<string, string | undefined>, pattern: RegExp) =>
  assert.throws(
    () => load(env),
    (error: unknown) => error instanceof ConfigError && pattern.test(error.message),
  );

test('gRPC federation is off by default; on with a port, with its defaults', () => {
  assert.equal(load({}).grpc, null);
  assert.deepEqual(load({ TESSERA_FEDERATION_GRPC_PORT: '8766', TESSERA_FEDERATION_HOST: '0.0.0.0' }).grpc, {
    host: '0.0.0.0',
    port: 8766,
    advertise: undefined,
    sendBufferPages: 4,
    stallTimeoutMs: 30_000,
  });
  const set = load({
    TESSERA_FEDERATION_GRPC_PORT: '0',
    TESSERA_FEDERATION_GRPC_HOST: '127.0.0.2',
    TESSERA_FEDERATION_GRPC_ADVERTISE: 'node-a.example.org:8766',
    TESSERA_FEDERATION_GRPC_SEND_BUFFER_PAGES: '8',
    TESSERA_FEDERATION_GRPC_STALL_TIMEOUT_MS: '5000',
  }).grpc;
  assert.deepEqual(set, {
    host: '127.0.0.2',
    port: 0,
    advertise: 'node-a.example.org:8766',
    sendBufferPages: 8,
    stallTimeoutMs: 5000,
  });
});

test('gRPC federation needs TLS material and federation; bad values are refused naming the setting', () => {
  refusedWith(
    {
      TESSERA_FEDERATION_GRPC_PORT: '8766',
      TESSERA_TLS_CERT_PATH: undefined,
      TESSERA_TLS_KEY_PATH: undefined,
      TESSERA_TLS_CA_BUNDLE: undefined,
      TESSERA_FEDERATION_INSECURE: '1',
    },
    /TESSERA_FEDERATION_GRPC_PORT.*mutual TLS only/,
  );
  refusedWith(
    { TESSERA_FEDERATION_GRPC_PORT: '8766', TESSERA_FEDERATION_ENABLED: 'false' },
    /TESSERA_FEDERATION_GRPC_PORT.*needs federation/,
  );
  refusedWith({ TESSERA_FEDERATION_GRPC_PORT: '70000' }, /TESSERA_FEDERATION_GRPC_PORT/);
  refusedWith(
    { TESSERA_FEDERATION_GRPC_ADVERTISE: 'no-port' },
    /TESSERA_FEDERATION_GRPC_ADVERTISE.*host:port/,
  );
  refusedWith(
    { TESSERA_FEDERATION_GRPC_SEND_BUFFER_PAGES: '0' },
    /TESSERA_FEDERATION_GRPC_SEND_BUFFER_PAGES/,
  );
});
