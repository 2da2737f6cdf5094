// Database TLS against a real MariaDB (a private server for this file, require_secure_transport=ON)
// through the real mysql2 driver: verify-full with our client certificate for REQUIRE X509 and REQUIRE
// SUBJECT users, each way a server certificate is refused (wrong CA, wrong name, expired) with its reason,
// the server refusing our certificate, and a client-certificate rotation under continuous load with no
// failed query, where the server itself proves that the new connections present the new certificate.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { TLSSocket } from 'node:tls';
import mysql from 'mysql2/promise';
import type { CredentialSource } from '../../src/tls/credential-source.ts';
import type { DatabaseTlsOptions } from '../../src/transport/db-tls.ts';
import { databaseTlsRefusal } from '../../src/transport/db-tls-errors.ts';
import { mysqlSslOptions, recycleMysqlPool } from '../../src/transport/db-tls-mysql.ts';
import { startQueryLoad } from '../support/db-load.ts';
import { createTestCa, DAY_MS, type TestCa, writeMaterial } from '../support/pki.ts';
import {
  mariadbBinaries,
  mariadbSubject,
  type PrivateMariadb,
  startPrivateMariadb,
} from '../support/private-mariadb.ts';
import { REQUIRE_DB_SERVERS } from '../support/private-server.ts';
import { fingerprintOf, hexFingerprint, nextChange, replaceFile, until } from '../support/reload.ts';
import { openStaticCredentials } from '../support/tls-peers.ts';

const X509_USER = 'tessera-x509';
const SUBJECT_USER = 'tessera-subject';
const CLIENT_CN = 'tessera-db';
// A DNS name: mysql2 hands node:tls no IP address to check (mysqlSslOptions refuses one).
const HOST = 'localhost';
const skip =
  mariadbBinaries() || REQUIRE_DB_SERVERS
    ? false
    : 'MariaDB server binaries not found (/usr/sbin/mariadbd, mariadb-install-db)';

type StatusRow = { Variable_name: string; Value: string };

describe('database TLS: MariaDB through mysql2', { skip, timeout: 120_000 }, () => {
  let ca: TestCa;
  let otherCa: TestCa;
  let db: PrivateMariadb;
  let credentials: CredentialSource;
  let dir: string;
  const serverLeaf = () => ca.issue('db-server');
  const restoreServerCert = async () => {
    const leaf = await serverLeaf();
    await db.reloadServerCert({ chainPem: leaf.certPem, keyPem: leaf.keyPem });
  };

  /** Client material (CN `name`, issued by `issuer`, trusting `caPem`) in a directory of its own. */
  const clientMaterial = async (label: string, name: string, issuer: TestCa, caPem = issuer.certPem) => {
    const home = await mkdtemp(join(dir, `${label}-`));
    return writeMaterial(home, 'client', await issuer.issue(name), caPem);
  };
  const clientCredentials = async (label: string, name: string, issuer: TestCa, caPem?: string) =>
    openStaticCredentials(await clientMaterial(label, name, issuer, caPem));

  const connect = (options: Partial<DatabaseTlsOptions> = {}, user = SUBJECT_USER) =>
    mysql.createConnection({
      host: HOST,
      port: db.port,
      user,
      connectTimeout: 10_000,
      ssl: mysqlSslOptions({ host: HOST, credentials, ...options }),
    });

  const sslStatus = async (connection: mysql.Connection) => {
    const [rows] = await connection.query("SHOW SESSION STATUS LIKE 'Ssl_%'");
    return Object.fromEntries((rows as StatusRow[]).map((row) => [row.Variable_name, row.Value]));
  };

  /** Connects, expecting a refusal; returns the driver's error and the refusal read from it. */
  const refused = async (options: Partial<DatabaseTlsOptions> = {}, user = SUBJECT_USER) => {
    const error = await connect(options, user).then(
      async (connection) => {
        await connection.end();
        assert.fail('the connection was expected to be refused');
      },
      (e: unknown) => e as Error & { code?: string },
    );
    return { error, refusal: databaseTlsRefusal(error) };
  };

  before(async () => {
    ca = await createTestCa('Tessera DB Test CA');
    otherCa = await createTestCa('Some Other CA');
    dir = await mkdtemp(join(tmpdir(), 'tessera-db-tls-'));
    const leaf = await serverLeaf();
    db = await startPrivateMariadb({
      serverCert: { chainPem: leaf.certPem, keyPem: leaf.keyPem },
      clientCaPem: ca.certPem,
    });
    credentials = await clientCredentials('client', CLIENT_CN, ca);
    await db.createUser(X509_USER, 'X509');
    await db.createUser(SUBJECT_USER, { subject: mariadbSubject(credentials.material.certPem) });
  });

  after(async () => {
    credentials?.close();
    await db?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('verify-full with our client certificate: REQUIRE X509 and REQUIRE SUBJECT users, TLS 1.3', async () => {
    for (const user of [X509_USER, SUBJECT_USER]) {
      const connection = await connect({}, user);
      try {
        const status = await sslStatus(connection);
        assert.equal(status['Ssl_version'], 'TLSv1.3', user);
        assert.match(status['Ssl_cipher'] ?? '', /^TLS_(AES_256_GCM|AES_128_GCM|CHACHA20_POLY1305)/);
      } finally {
        await connection.end();
      }
    }
    const strict = await connect({ minVersion: 'TLSv1.3' });
    assert.equal((await sslStatus(strict))['Ssl_version'], 'TLSv1.3');
    await strict.end();
  });

  test('a server whose certificate does not chain to our CA bundle is refused: cert_untrusted', async () => {
    const stranger = await clientCredentials('stranger', CLIENT_CN, otherCa);
    try {
      const { error, refusal } = await refused({ credentials: stranger });
      // mysql2 replaces node:tls's code with its own; the refusal reads the verification code back.
      assert.equal(error.code, 'HANDSHAKE_SSL_ERROR');
      assert.deepEqual(refusal && { by: refusal.by, reason: refusal.reason }, {
        by: 'client',
        reason: 'cert_untrusted',
      });
      // MariaDB completes its chain from ssl_ca (OpenSSL's auto-chain), so the root is in it.
      assert.match(refusal?.detail ?? '', /^SELF_SIGNED_CERT_IN_CHAIN: /);
    } finally {
      stranger.close();
    }
  });

  test('a server certificate for another name is refused (verify-full)', async () => {
    const other = await ca.issue('db-elsewhere', { dnsNames: ['db.elsewhere.example'], ips: [] });
    await db.reloadServerCert({ chainPem: other.certPem, keyPem: other.keyPem });
    try {
      const { error, refusal } = await refused();
      assert.equal(error.code, 'HANDSHAKE_SSL_ERROR');
      assert.equal(refusal?.reason, 'hostname_mismatch');
      assert.match(refusal?.detail ?? '', /Host: localhost\. is not in the cert's altnames/);
    } finally {
      await restoreServerCert();
    }
  });

  test('an expired server certificate is refused: CERT_HAS_EXPIRED → cert_expired', async () => {
    const now = Date.now();
    const expired = await ca.issue('db-server', {
      notBefore: new Date(now - 10 * DAY_MS),
      notAfter: new Date(now - DAY_MS),
    });
    await db.reloadServerCert({ chainPem: expired.certPem, keyPem: expired.keyPem });
    try {
      const { error, refusal } = await refused();
      assert.equal(error.code, 'HANDSHAKE_SSL_ERROR');
      assert.deepEqual(refusal && { by: refusal.by, reason: refusal.reason }, {
        by: 'client',
        reason: 'cert_expired',
      });
      assert.match(refusal?.detail ?? '', /^CERT_HAS_EXPIRED: /);
    } finally {
      await restoreServerCert();
    }
  });

  test('the server refuses a certificate that is not the REQUIRE SUBJECT one: access denied', async () => {
    const intruder = await clientCredentials('intruder', 'intruder', ca);
    try {
      const { error, refusal } = await refused({ credentials: intruder });
      assert.equal(error.code, 'ER_ACCESS_DENIED_ERROR');
      assert.match(error.message, /Access denied for user 'tessera-subject'/);
      assert.deepEqual(refusal && { by: refusal.by, reason: refusal.reason }, {
        by: 'server',
        reason: 'access_denied',
      });
      // The same certificate satisfies a REQUIRE X509 user: it is the subject that was refused.
      const connection = await connect({ credentials: intruder }, X509_USER);
      await connection.end();
    } finally {
      intruder.close();
    }
  });

  test('the server refuses a client certificate from a CA it does not trust', async () => {
    // We trust both CAs (so the server passes our check); the server trusts only its own for clients.
    const foreign = await clientCredentials('foreign', CLIENT_CN, otherCa, `${ca.certPem}${otherCa.certPem}`);
    try {
      const { error, refusal } = await refused({ credentials: foreign }, X509_USER);
      assert.deepEqual(refusal && { by: refusal.by, reason: refusal.reason }, {
        by: 'server',
        reason: 'client_cert_refused',
      });
      assert.match(String(error.code), /UNKNOWN_CA|EPROTO/);
    } finally {
      foreign.close();
    }
  });

  test('rotation under load: no failed query, and the server admits only the new certificate afterwards', async () => {
    const ROTATING_USER = 'tessera-rotating';
    const rotating = await clientMaterial('rotating', 'rotating-a', ca);
    // The real reload path: the source watches the directory and reloads when the files are replaced.
    const source = await openStaticCredentials(rotating, { watch: true, debounceMs: 20 });
    await db.createUser(ROTATING_USER, { subject: mariadbSubject(source.material.certPem) });
    const pool = mysql.createPool({
      host: HOST,
      port: db.port,
      user: ROTATING_USER,
      connectionLimit: 4,
      ssl: mysqlSslOptions({ host: HOST, credentials: source }),
    });
    const stopRecycling = recycleMysqlPool(pool, source);
    const opened: string[] = [];
    // What each new connection really presented (its TLS socket's own certificate).
    pool.on('connection', (connection) => {
      const socket = (connection as unknown as { stream: TLSSocket }).stream;
      opened.push(hexFingerprint(socket.getX509Certificate()?.fingerprint256 ?? 'none'));
    });
    const load = startQueryLoad(8, () => pool.query('SELECT CONNECTION_ID()'));
    try {
      await load.progress(200);
      assert.equal(opened.length, 4, 'the pool is full before the rotation');

      // From now on the server admits only the next certificate: a new connection that still presented the
      // old one would be refused, and fail a query. Open sessions are not affected.
      const next = await ca.issue('rotating-b');
      await db.requireFor(ROTATING_USER, { subject: mariadbSubject(next.certPem) });
      const changed = nextChange(source, (m) => m.leaf.fingerprint256 === fingerprintOf(next.certPem));
      await replaceFile(rotating.keyPath, next.keyPem, 0o600);
      await replaceFile(rotating.certPath, next.chainPem);
      await changed;

      // The four old connections are retired as their queries finish; four new ones replace them.
      await until('the pool to reopen its connections with the new certificate', () => opened.length >= 8);
      await load.progress(200);
      assert.deepEqual(new Set(opened.slice(4)), new Set([fingerprintOf(next.certPem)]));

      const old = await clientCredentials('old', 'rotating-a', ca);
      const { refusal } = await refused({ credentials: old }, ROTATING_USER);
      old.close();
      assert.equal(refusal?.reason, 'access_denied', 'the old certificate is refused now');
    } finally {
      const { ok, failures } = await load.stop();
      stopRecycling();
      await pool.end();
      source.close();
      assert.deepEqual(failures, [], `${failures.length} of ${ok + failures.length} queries failed`);
    }
  });
});
