// Rule 7: federation without TLS only for local development, behind TESSERA_FEDERATION_INSECURE=1, on
// loopback unless TESSERA_LOCAL_DEV_ALLOW_INSECURE_NON_LOOPBACK=1 also acknowledges it; contradictory
// settings fail closed. Every refusal has a code and names the setting at fault.
import assert from 'node:assert/strict';
import { beforeEach, describe, test } from 'node:test';
import { TlsError } from '../../src/tls/errors.ts';
import {
  evaluateFederationSecurity,
  type FederationSecurityInput,
  isLoopbackHost,
} from '../../src/tls/insecure.ts';
import type { Logger } from '../../src/tls/logger.ts';
import { counterValue } from '../support/metrics.ts';
import { testMetrics } from '../support/tls-peers.ts';

const TLS = { certPath: '/etc/t/node.crt', keyPath: '/etc/t/node.key', caPath: '/etc/t/ca.crt' };
const INSECURE = { TESSERA_FEDERATION_INSECURE: '1' };
const BOTH = { ...INSECURE, TESSERA_LOCAL_DEV_ALLOW_INSECURE_NON_LOOPBACK: '1' };

interface Line {
  level: 'info' | 'warn' | 'error' | 'debug';
  obj: Record<string, unknown>;
  msg: string | undefined;
}

function captureLogger(): Logger & { lines: Line[] } {
  const lines: Line[] = [];
  const at =
    (level: Line['level']) =>
    (obj: object, msg?: string): void => {
      lines.push({ level, obj: obj as Record<string, unknown>, msg });
    };
  return { lines, info: at('info'), warn: at('warn'), error: at('error'), debug: at('debug') };
}

const tls = testMetrics();
const insecureGauge = () => counterValue(tls.registry, 'tessera_insecure_mode', {});

function evaluate(input: Partial<FederationSecurityInput>, logger = captureLogger()) {
  return evaluateFederationSecurity({
    env: {},
    bindHost: '127.0.0.1',
    tls: {},
    logger,
    metrics: tls.metrics,
    ...input,
  });
}

function refused(input: Partial<FederationSecurityInput>, code: string, message: RegExp): TlsError {
  const logger = captureLogger();
  let caught: unknown;
  try {
    evaluate(input, logger);
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof TlsError, `expected a TlsError ${code}, got ${String(caught)}`);
  assert.equal(caught.code, code);
  assert.match(caught.message, message);
  assert.ok(
    !logger.lines.some((l) => l.obj.event === 'insecure_mode'),
    'no insecure-mode warning on refusal',
  );
  return caught;
}

describe('evaluateFederationSecurity', () => {
  beforeEach(() => {
    // A known starting point: a valid mTLS evaluation sets the gauge to 0.
    evaluate({ tls: TLS });
  });

  test('mTLS configured, no insecure flag → mode mtls with the paths, gauge 0', async () => {
    assert.deepEqual(evaluate({ tls: TLS }), { mode: 'mtls', ...TLS });
    assert.equal(await insecureGauge(), 0);
  });

  test('no TLS paths and no TESSERA_FEDERATION_INSECURE → refused, naming the missing settings', async () => {
    refused(
      {},
      'TLS_CONFIG_INVALID',
      /federation requires mutual TLS: set TESSERA_TLS_CERT_PATH, TESSERA_TLS_KEY_PATH, TESSERA_TLS_CA_BUNDLE \(or TESSERA_FEDERATION_INSECURE=1 for local development only\)/,
    );
    refused(
      { tls: { certPath: TLS.certPath } },
      'TLS_CONFIG_INVALID',
      /set TESSERA_TLS_KEY_PATH, TESSERA_TLS_CA_BUNDLE \(/,
    );
    assert.equal(await insecureGauge(), 0);
  });

  test('insecure on loopback (bind and advertised URL) → allowed, warning logged, gauge 1', async () => {
    for (const [bindHost, advertisedUrl] of [
      ['127.0.0.1', 'http://127.0.0.1:8765'],
      ['localhost', 'http://localhost:8765'],
      ['::1', 'http://[::1]:8765'],
      ['127.8.9.10', undefined],
    ] as const) {
      evaluate({ tls: TLS });
      const logger = captureLogger();
      const result = evaluate({ env: INSECURE, bindHost, advertisedUrl }, logger);
      assert.deepEqual(result, { mode: 'insecure' }, `${bindHost} ${advertisedUrl}`);
      const warning = logger.lines.find((l) => l.obj.event === 'insecure_mode');
      assert.ok(warning, 'an insecure_mode line is logged');
      assert.equal(warning.level, 'warn');
      assert.equal(warning.obj.nonLoopback, false);
      assert.equal(warning.obj.bindHost, bindHost);
      assert.match(warning.msg ?? '', /SECURITY WARNING: federation is running WITHOUT TLS/);
      assert.equal(await insecureGauge(), 1);
    }
  });

  test('insecure on a non-loopback bind address → TLS_INSECURE_REFUSED naming it', async () => {
    for (const bindHost of ['0.0.0.0', '::', '10.1.2.3', 'node-a.internal']) {
      refused(
        { env: INSECURE, bindHost },
        'TLS_INSECURE_REFUSED',
        new RegExp(`allowed only on loopback, but the bind address ${bindHost} is not loopback`),
      );
    }
    assert.equal(await insecureGauge(), 0);
  });

  test('insecure with a non-loopback advertised URL → TLS_INSECURE_REFUSED naming it', async () => {
    refused(
      { env: INSECURE, advertisedUrl: 'http://192.168.1.20:8765' },
      'TLS_INSECURE_REFUSED',
      /the advertised URL 192\.168\.1\.20 is not loopback; use mTLS \(or also set TESSERA_LOCAL_DEV_ALLOW_INSECURE_NON_LOOPBACK=1/,
    );
    // A name that merely starts with "localhost" or 127 is not loopback (names are not resolved).
    refused(
      { env: INSECURE, advertisedUrl: 'http://localhost.evil.example:8765' },
      'TLS_INSECURE_REFUSED',
      /advertised URL localhost\.evil\.example/,
    );
    refused(
      { env: INSECURE, bindHost: '0.0.0.0', advertisedUrl: 'http://10.0.0.1:1' },
      'TLS_INSECURE_REFUSED',
      /bind address 0\.0\.0\.0 and advertised URL 10\.0\.0\.1 is not loopback/,
    );
    assert.equal(await insecureGauge(), 0);
  });

  test('non-loopback with the second acknowledgement → allowed, warning says nonLoopback, gauge 1', async () => {
    const logger = captureLogger();
    const result = evaluate(
      { env: BOTH, bindHost: '0.0.0.0', advertisedUrl: 'http://192.168.1.20:8765' },
      logger,
    );
    assert.deepEqual(result, { mode: 'insecure' });
    const warning = logger.lines.find((l) => l.obj.event === 'insecure_mode');
    assert.equal(warning?.level, 'warn');
    assert.equal(warning?.obj.nonLoopback, true);
    assert.equal(await insecureGauge(), 1);
  });

  test('flag values: 1/true (any case, trimmed) enable; 0/false/empty disable', () => {
    for (const value of ['1', 'true', 'TRUE', ' True ']) {
      assert.deepEqual(
        evaluate({ env: { TESSERA_FEDERATION_INSECURE: value } }),
        { mode: 'insecure' },
        value,
      );
    }
    for (const value of ['0', 'false', '', 'FALSE']) {
      assert.equal(evaluate({ env: { TESSERA_FEDERATION_INSECURE: value }, tls: TLS }).mode, 'mtls', value);
    }
  });

  describe('contradictory settings fail closed', () => {
    test('insecure flag together with TLS paths → TLS_INSECURE_REFUSED', async () => {
      refused(
        { env: INSECURE, tls: TLS },
        'TLS_INSECURE_REFUSED',
        /TESSERA_FEDERATION_INSECURE=1 contradicts the TLS paths that are also set; configure one or the other/,
      );
      refused({ env: INSECURE, tls: { caPath: TLS.caPath } }, 'TLS_INSECURE_REFUSED', /contradicts/);
      assert.equal(await insecureGauge(), 0);
    });

    test('second acknowledgement without the insecure flag → TLS_CONFIG_INVALID', () => {
      refused(
        { env: { TESSERA_LOCAL_DEV_ALLOW_INSECURE_NON_LOOPBACK: '1' }, tls: TLS },
        'TLS_CONFIG_INVALID',
        /TESSERA_LOCAL_DEV_ALLOW_INSECURE_NON_LOOPBACK is set but TESSERA_FEDERATION_INSECURE is not/,
      );
    });

    test('a bad flag value (yes, on, 2) → TLS_CONFIG_INVALID naming the variable and value', () => {
      for (const value of ['yes', 'on', '2']) {
        refused(
          { env: { TESSERA_FEDERATION_INSECURE: value } },
          'TLS_CONFIG_INVALID',
          new RegExp(`TESSERA_FEDERATION_INSECURE must be 1/true or 0/false \\(got "${value}"\\)`),
        );
        refused(
          { env: { ...INSECURE, TESSERA_LOCAL_DEV_ALLOW_INSECURE_NON_LOOPBACK: value } },
          'TLS_CONFIG_INVALID',
          new RegExp(
            `TESSERA_LOCAL_DEV_ALLOW_INSECURE_NON_LOOPBACK must be 1/true or 0/false \\(got "${value}"\\)`,
          ),
        );
      }
    });

    test('an advertised URL that does not parse → TLS_CONFIG_INVALID', () => {
      refused(
        { env: INSECURE, advertisedUrl: 'not a url' },
        'TLS_CONFIG_INVALID',
        /advertised URL "not a url" is not a valid URL/,
      );
    });
  });
});

describe('isLoopbackHost', () => {
  test('literal loopback addresses and localhost only', () => {
    for (const host of [
      '127.0.0.1',
      '127.255.0.9',
      '::1',
      '[::1]',
      'localhost',
      'LOCALHOST',
      '::ffff:127.0.0.1',
    ]) {
      assert.equal(isLoopbackHost(host), true, host);
    }
    for (const host of ['0.0.0.0', '::', '128.0.0.1', '::ffff:10.0.0.1', 'localhost.', 'example.org', '']) {
      assert.equal(isLoopbackHost(host), false, host);
    }
  });
});
