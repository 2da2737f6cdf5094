// The trusted-proxy settings: CIDRs and identity URIs are parsed and checked at start (a bad entry is named),
// the header format is one of two, and trusted proxies without the node's TLS material (no CA bundle to
// verify forwarded certificates with) are refused.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadConfig } from '../../../src/node/settings/config.ts';
import { ConfigError } from '../../../src/node/settings/read.ts';
import { silentLogger } from '../../support/tls-peers.ts';

const BASE = {
  TESSERA_ENTITY_URI: 'spiffe://example.org/node/a',
  TESSERA_DATA_DIR: '/tmp/tessera-proxy-settings',
};
const TLS = {
  TESSERA_TLS_CERT_PATH: '/etc/tessera/tls/node.crt',
  TESSERA_TLS_KEY_PATH: '/etc/tessera/tls/node.key',
  TESSERA_TLS_CA_BUNDLE: '/etc/tessera/tls/ca.crt',
};

function refusal(env: Record<string, string>): string {
  try {
    loadConfig({}, { ...BASE, ...env }, silentLogger);
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    return error.message;
  }
  assert.fail('the settings were accepted');
}

test('defaults: no trusted proxy, no identity, XFCC', () => {
  const config = loadConfig({}, { ...BASE, ...TLS }, silentLogger);
  assert.deepEqual(config.trustedProxies, { proxies: [], identities: [], header: 'xfcc' });
});

test('CIDRs, bare addresses and identities are read; flags win', () => {
  const config = loadConfig(
    { trustedProxies: '10.0.0.0/24, 192.0.2.7', forwardedCertHeader: 'client-cert' },
    {
      ...BASE,
      ...TLS,
      TESSERA_TRUSTED_PROXIES: '10.9.9.9',
      TESSERA_TRUSTED_PROXY_IDENTITIES: 'spiffe://example.org/proxy/edge',
    },
    silentLogger,
  );
  assert.deepEqual(config.trustedProxies, {
    proxies: ['10.0.0.0/24', '192.0.2.7/32'],
    identities: ['spiffe://example.org/proxy/edge'],
    header: 'client-cert',
  });
});

test('bad entries are refused, naming the setting and the entry', () => {
  assert.match(
    refusal({ ...TLS, TESSERA_TRUSTED_PROXIES: '10.0.0.0/33' }),
    /TESSERA_TRUSTED_PROXIES.*10\.0\.0\.0\/33/,
  );
  assert.match(
    refusal({ ...TLS, TESSERA_TRUSTED_PROXIES: 'proxy.example.org' }),
    /TESSERA_TRUSTED_PROXIES.*proxy\.example\.org/,
  );
  assert.match(
    refusal({ ...TLS, TESSERA_TRUSTED_PROXY_IDENTITIES: 'not a uri' }),
    /TESSERA_TRUSTED_PROXY_IDENTITIES/,
  );
  assert.match(
    refusal({ ...TLS, TESSERA_FORWARDED_CERT_HEADER: 'forwarded' }),
    /TESSERA_FORWARDED_CERT_HEADER.*xfcc or client-cert/,
  );
});

test('trusted proxies need the TLS material: forwarded certificates are verified against its CA bundle', () => {
  assert.match(
    refusal({ TESSERA_FEDERATION_ENABLED: 'false', TESSERA_TRUSTED_PROXIES: '127.0.0.1' }),
    /TESSERA_TRUSTED_PROXIES.*CA bundle/,
  );
});
