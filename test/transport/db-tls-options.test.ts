// Database TLS without a server: what the pg and mysql2 option objects trust, offer and hide, that they
// follow the credential source's material, and how databaseTlsRefusal reads each driver's errors.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { rootCertificates } from 'node:tls';
import { PeerRejectedError } from '../../src/tls/errors.ts';
import { loadMaterial, type Material } from '../../src/tls/material.ts';
import { DATABASE_TLS12_CIPHERS, databaseClientTlsOptions, TLS_CIPHERS } from '../../src/tls/policy.ts';
import { databaseTlsRefusal } from '../../src/transport/db-tls-errors.ts';
import { mysqlSslOptions } from '../../src/transport/db-tls-mysql.ts';
import { pgSslOptions, recyclePgPool } from '../../src/transport/db-tls-pg.ts';
import { createTestCa, writeMaterial } from '../support/pki.ts';

describe('database TLS options', () => {
  let dir: string;
  let first: Material;
  let second: Material;
  // A stand-in for a CredentialSource: the adapters only read `material`.
  const feed: { material: Material } = { material: undefined as unknown as Material };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tessera-db-options-'));
    const ca = await createTestCa();
    first = await loadMaterial(await writeMaterial(dir, 'first', await ca.issue('db-client'), ca.certPem));
    second = await loadMaterial(await writeMaterial(dir, 'second', await ca.issue('db-client'), ca.certPem));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  test('the policy: TLS 1.2 floor, 1.3 preferred, AEAD suites only, the CA bundle and nothing else', () => {
    const options = databaseClientTlsOptions(first);
    assert.equal(options.minVersion, 'TLSv1.2');
    assert.equal(options.maxVersion, 'TLSv1.3');
    assert.equal(options.ciphers, `${TLS_CIPHERS}:${DATABASE_TLS12_CIPHERS}`);
    assert.ok(DATABASE_TLS12_CIPHERS.split(':').every((suite) => /^ECDHE-.*(GCM|POLY1305)/.test(suite)));
    assert.equal(options.ca, first.caPem, 'only the configured bundle: no system CAs');
    assert.equal(options.rejectUnauthorized, true);

    const strict = databaseClientTlsOptions(first, { minVersion: 'TLSv1.3' });
    assert.equal(strict.minVersion, 'TLSv1.3');
    assert.equal(strict.ciphers, TLS_CIPHERS);

    const withSystem = databaseClientTlsOptions(first, { systemCa: true });
    assert.deepEqual(withSystem.ca, [...rootCertificates, first.caPem]);
  });

  test('pg: each new connection gets the current material; the context is rebuilt only when it changes', () => {
    feed.material = first;
    const ssl = pgSslOptions({ credentials: feed });
    const context = ssl.secureContext;
    assert.equal(ssl.secureContext, context);
    feed.material = second;
    assert.notEqual(ssl.secureContext, context);
    assert.equal(ssl.rejectUnauthorized, true);
    // What pg does with `ssl` (Object.assign into tls.connect options) reads the current context.
    assert.equal(Object.assign({}, ssl).secureContext, ssl.secureContext);
    assert.doesNotMatch(JSON.stringify(ssl), /PRIVATE KEY/);
  });

  test('mysql2: cert, key and CA follow the material; the key is never enumerated', () => {
    feed.material = first;
    const ssl = mysqlSslOptions({ host: 'db.example', credentials: feed });
    assert.equal(ssl.cert, first.certPem);
    assert.equal(ssl.key, first.keyPem);
    assert.equal(ssl.ca, first.caPem);
    assert.equal(ssl.verifyIdentity, true);
    assert.equal(ssl.rejectUnauthorized, true);
    assert.deepEqual([ssl.minVersion, ssl.maxVersion], ['TLSv1.2', 'TLSv1.3']);
    assert.ok(!Object.keys(ssl).includes('key'));
    assert.doesNotMatch(JSON.stringify(ssl), /PRIVATE KEY/);
    feed.material = second;
    assert.equal(ssl.cert, second.certPem);
    assert.equal(ssl.key, second.keyPem);
  });

  test('mysql2: an IP host is refused (node:tls would check the certificate against localhost)', () => {
    feed.material = first;
    for (const host of ['127.0.0.1', '10.0.0.5', '::1']) {
      assert.throws(() => mysqlSslOptions({ host, credentials: feed }), {
        name: 'TlsError',
        code: 'TLS_CONFIG_INVALID',
      });
    }
  });

  test('recyclePgPool refuses a pool without pg-pool expiry support', () => {
    const pool = { on: () => pool, removeListener: () => pool };
    assert.throws(() => recyclePgPool(pool, feed), TypeError);
  });
});

describe('databaseTlsRefusal', () => {
  const cases: [string, unknown, { by: string; reason: string } | undefined][] = [
    [
      'our authorizer (pg)',
      new PeerRejectedError('uri_mismatch', 'x'),
      { by: 'client', reason: 'uri_mismatch' },
    ],
    [
      'node:tls verification code (pg)',
      Object.assign(new Error('certificate has expired'), { code: 'CERT_HAS_EXPIRED' }),
      { by: 'client', reason: 'cert_expired' },
    ],
    [
      'mysql2 HANDSHAKE_SSL_ERROR hiding UNABLE_TO_VERIFY_LEAF_SIGNATURE',
      Object.assign(new Error('unable to verify the first certificate'), { code: 'HANDSHAKE_SSL_ERROR' }),
      { by: 'client', reason: 'cert_untrusted' },
    ],
    [
      'mysql2 HANDSHAKE_SSL_ERROR hiding a name mismatch',
      Object.assign(new Error("Hostname/IP does not match certificate's altnames: Host: db. is not in …"), {
        code: 'HANDSHAKE_SSL_ERROR',
      }),
      { by: 'client', reason: 'hostname_mismatch' },
    ],
    [
      'a protocol-version alert met while writing',
      Object.assign(
        new Error(
          'write EPROTO 80:error:0A00042E:SSL routines:ssl3_read_bytes:tlsv1 alert protocol version:x',
        ),
        {
          code: 'EPROTO',
        },
      ),
      { by: 'server', reason: 'protocol_version' },
    ],
    [
      'the server does not know our CA',
      Object.assign(new Error('tlsv1 alert unknown ca'), { code: 'ERR_SSL_TLSV1_ALERT_UNKNOWN_CA' }),
      { by: 'server', reason: 'client_cert_refused' },
    ],
    [
      'PostgreSQL cert authentication',
      Object.assign(new Error('certificate authentication failed for user "x"'), { code: '28000' }),
      { by: 'server', reason: 'client_cert_refused' },
    ],
    [
      'PostgreSQL password authentication',
      Object.assign(new Error('password authentication failed for user "x"'), { code: '28P01' }),
      { by: 'server', reason: 'access_denied' },
    ],
    [
      'MariaDB access denied',
      Object.assign(new Error("Access denied for user 'x'@'h'"), {
        errno: 1045,
        code: 'ER_ACCESS_DENIED_ERROR',
      }),
      { by: 'server', reason: 'access_denied' },
    ],
    [
      'wrapped in a cause',
      new Error('pool error', { cause: Object.assign(new Error('x'), { code: 'CERT_HAS_EXPIRED' }) }),
      { by: 'client', reason: 'cert_expired' },
    ],
    [
      'a network error is not a refusal',
      Object.assign(new Error('connect'), { code: 'ECONNREFUSED' }),
      undefined,
    ],
    ['an SQL error is not a refusal', Object.assign(new Error('syntax'), { code: '42601' }), undefined],
  ];
  for (const [name, error, expected] of cases) {
    test(name, () => {
      const refusal = databaseTlsRefusal(error);
      assert.deepEqual(refusal && { by: refusal.by, reason: refusal.reason }, expected);
    });
  }
});
