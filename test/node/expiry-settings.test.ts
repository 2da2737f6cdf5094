// TESSERA_TLS_EXPIRY_WARNING / _CRITICAL: the expiry windows in hours or days. Parsed and checked at
// start (critical within warning); a real node whose 24 h-style certificate has 10 h left logs it as a
// `warning` with 12h/4h windows, and as `critical` with the default 30d/7d.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loadConfig } from '../../src/node/settings/config.ts';
import { ConfigError } from '../../src/node/settings/read.ts';
import { startNodeProcess } from '../support/node-process.ts';
import { createTestCa, type TestCa, testUri, writeMaterial } from '../support/pki.ts';
import { silentLogger } from '../support/tls-peers.ts';

const HOUR = 3_600_000;
const BASE = { TESSERA_ENTITY_URI: 'spiffe://test.example/node/a', TESSERA_FEDERATION_INSECURE: '1' };
const load = (env: Record<string, string>) => loadConfig({}, { ...BASE, ...env }, silentLogger);

function refusal(env: Record<string, string>): string {
  let message = '';
  assert.throws(
    () => load(env),
    (error: unknown) => {
      assert.ok(error instanceof ConfigError, String(error));
      message = error.message;
      return true;
    },
  );
  return message;
}

describe('expiry window settings', () => {
  test('defaults 30d / 7d; hours and days, fractions allowed', () => {
    assert.deepEqual(load({}).tlsExpiry, { warningMs: 30 * 24 * HOUR, criticalMs: 7 * 24 * HOUR });
    assert.deepEqual(
      load({ TESSERA_TLS_EXPIRY_WARNING: '12h', TESSERA_TLS_EXPIRY_CRITICAL: '4h' }).tlsExpiry,
      {
        warningMs: 12 * HOUR,
        criticalMs: 4 * HOUR,
      },
    );
    const fractional = load({ TESSERA_TLS_EXPIRY_WARNING: '1.5d', TESSERA_TLS_EXPIRY_CRITICAL: '0.5d' });
    assert.deepEqual(fractional.tlsExpiry, { warningMs: 36 * HOUR, criticalMs: 12 * HOUR });
  });

  test('a bad duration, or a critical window longer than the warning one, is refused naming the settings', () => {
    for (const bad of ['12', '12m', '-1d', 'soon', '4000d'])
      assert.match(
        refusal({ TESSERA_TLS_EXPIRY_WARNING: bad }),
        new RegExp(
          `^TESSERA_TLS_EXPIRY_WARNING \\(--tls-expiry-warning\\) must be hours or days such as 12h or 30d, at most 3650d \\(got "${bad}"\\)$`,
        ),
      );
    assert.equal(
      refusal({ TESSERA_TLS_EXPIRY_WARNING: '4h', TESSERA_TLS_EXPIRY_CRITICAL: '12h' }),
      'TESSERA_TLS_EXPIRY_CRITICAL (--tls-expiry-critical) must not be longer than TESSERA_TLS_EXPIRY_WARNING (--tls-expiry-warning) (critical comes after warning)',
    );
  });
});

describe('expiry events of a real node with a certificate that has 10 h left', () => {
  let ca: TestCa;
  let root: string;
  before(async () => {
    ca = await createTestCa();
    root = await mkdtemp(join(tmpdir(), 'tessera-expiry-'));
  });
  after(() => rm(root, { recursive: true, force: true }));

  async function leafLevel(name: string, env: Record<string, string>): Promise<unknown> {
    const leaf = await ca.issue(name, {
      notBefore: new Date(Date.now() - HOUR),
      notAfter: new Date(Date.now() + 10 * HOUR),
    });
    await mkdir(join(root, name, 'tls'), { recursive: true });
    const tls = await writeMaterial(join(root, name, 'tls'), 'node', leaf, ca.certPem);
    const node = await startNodeProcess({
      name,
      root,
      entityUri: testUri(name),
      env,
      reuse: { apiKey: 'k'.repeat(32), tls },
    });
    try {
      const event = await node.proc.waitForEvent(
        (e) => e.event === 'tls_cert_expiry' && e.cert === 'leaf',
        10_000,
      );
      return event.level;
    } finally {
      await node.stop();
    }
  }

  test('12h / 4h windows: a warning', async () => {
    assert.equal(
      await leafLevel('short', { TESSERA_TLS_EXPIRY_WARNING: '12h', TESSERA_TLS_EXPIRY_CRITICAL: '4h' }),
      'warning',
    );
  });

  test('the default 30d / 7d windows: critical', async () => {
    assert.equal(await leafLevel('default', {}), 'critical');
  });
});
