// Database TLS against a real PostgreSQL (a private server for this file) through the real pg driver:
// verify-full with our client certificate (`hostssl … cert`), each way a server certificate is refused
// (wrong CA, wrong name, expired) with its reason, the server refusing our certificate, the TLS floor, and
// a client-certificate rotation under continuous load with no failed query.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import type { CredentialSource } from '../../src/tls/credential-source.ts';
import { databaseTlsRefusal } from '../../src/transport/db-tls-errors.ts';
import { type PgTlsOptions, pgSslOptions, recyclePgPool } from '../../src/transport/db-tls-pg.ts';
import type { Rejection } from '../../src/transport/rejections.ts';
import { startQueryLoad } from '../support/db-load.ts';
import { createTestCa, DAY_MS, type TestCa, testUri, writeMaterial } from '../support/pki.ts';
import { type PrivatePostgres, postgresBinaries, startPrivatePostgres } from '../support/private-postgres.ts';
import { REQUIRE_DB_SERVERS } from '../support/private-server.ts';
import { fingerprintOf, nextChange, replaceFile, until } from '../support/reload.ts';
import { openStaticCredentials, silentLogger } from '../support/tls-peers.ts';

const USER = 'tessera-db';
const skip =
  postgresBinaries() || REQUIRE_DB_SERVERS
    ? false
    : 'PostgreSQL server binaries not found (pg_config --bindir, /usr/lib/postgresql/*/bin, PATH)';

interface SslRow {
  version: string;
  client_dn: string;
  client_serial: string;
}

/** The serial as pg_stat_ssl shows it (decimal) from the hex serial of a parsed certificate. */
const decimalSerial = (hex: string) => BigInt(`0x${hex}`).toString();

describe('database TLS: PostgreSQL through pg', { skip, timeout: 120_000 }, () => {
  let ca: TestCa;
  let otherCa: TestCa;
  let db: PrivatePostgres;
  let credentials: CredentialSource;
  let dir: string;
  const serverLeaf = () => ca.issue('db-server', { uris: [testUri('db-server')] });

  /** Client material (CN `name`, issued by `issuer`, trusting `caPem`) in a directory of its own. */
  const clientMaterial = async (label: string, name: string, issuer: TestCa, caPem = issuer.certPem) => {
    const home = await mkdtemp(join(dir, `${label}-`));
    return writeMaterial(home, 'client', await issuer.issue(name), caPem);
  };
  const clientCredentials = async (label: string, name: string, issuer: TestCa, caPem?: string) =>
    openStaticCredentials(await clientMaterial(label, name, issuer, caPem));

  const connect = async (options: Partial<PgTlsOptions> = {}, user = USER) => {
    const client = new pg.Client({
      host: db.host,
      port: db.port,
      user,
      database: 'postgres',
      connectionTimeoutMillis: 10_000,
      ssl: pgSslOptions({ credentials, logger: silentLogger, ...options }),
    });
    client.on('error', () => {});
    // No end() after a failed connect: the socket is already gone, and pg would wait for its 'end' again.
    await client.connect();
    return client;
  };

  const ownSsl = async (client: pg.Client) =>
    (
      await client.query<SslRow>(
        'SELECT version, client_dn, client_serial::text FROM pg_stat_ssl WHERE pid = pg_backend_pid()',
      )
    ).rows[0]!;

  /** Connects, expecting a refusal; returns the driver's error and the refusal read from it. */
  const refused = async (options: Partial<PgTlsOptions> = {}, user = USER) => {
    const error = await connect(options, user).then(
      async (client) => {
        await client.end();
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
    // Leaf only, as operators usually configure it (the server adds the CA from ssl_ca_file itself).
    const leaf = await serverLeaf();
    db = await startPrivatePostgres({
      serverCert: { chainPem: leaf.certPem, keyPem: leaf.keyPem },
      clientCaPem: ca.certPem,
    });
    await db.createUser(USER);
    credentials = await clientCredentials('client', USER, ca);
  });

  after(async () => {
    credentials?.close();
    await db?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('verify-full with our client certificate: TLS 1.3, the server sees our DN and serial', async () => {
    const client = await connect();
    try {
      const row = await ownSsl(client);
      assert.equal(row.version, 'TLSv1.3');
      assert.equal(row.client_dn, `/CN=${USER}`);
      assert.equal(row.client_serial, decimalSerial(credentials.material.leaf.serial));
    } finally {
      await client.end();
    }
  });

  test('an expected URI SAN is checked through the core authorizer', async () => {
    const client = await connect({ expectedUri: testUri('db-server') });
    await client.end();
    const rejections: Rejection[] = [];
    const { error, refusal } = await refused({
      expectedUri: testUri('not-the-db'),
      onRejected: (r) => rejections.push(r),
    });
    assert.equal(error.name, 'PeerRejectedError');
    assert.deepEqual(refusal && { by: refusal.by, reason: refusal.reason }, {
      by: 'client',
      reason: 'uri_mismatch',
    });
    assert.deepEqual(
      rejections.map((r) => r.reason),
      ['uri_mismatch'],
    );
  });

  test('a server whose certificate does not chain to our CA bundle is refused: cert_untrusted', async () => {
    const stranger = await clientCredentials('stranger', USER, otherCa);
    try {
      const { error, refusal } = await refused({ credentials: stranger });
      // PostgreSQL completes its chain from ssl_ca_file (OpenSSL's auto-chain), so the root is in it.
      assert.equal(error.code, 'SELF_SIGNED_CERT_IN_CHAIN');
      assert.equal(refusal?.by, 'client');
      assert.equal(refusal?.reason, 'cert_untrusted');
    } finally {
      stranger.close();
    }
  });

  test('a server certificate for another name is refused (verify-full); serverName says which name to expect', async () => {
    const other = await ca.issue('db-elsewhere', { dnsNames: ['db.elsewhere.example'], ips: [] });
    await db.reloadServerCert({ chainPem: other.certPem, keyPem: other.keyPem });
    try {
      const rejections: Rejection[] = [];
      const { error, refusal } = await refused({ onRejected: (r) => rejections.push(r) });
      assert.equal(error.name, 'PeerRejectedError');
      assert.equal(refusal?.reason, 'hostname_mismatch');
      assert.match(refusal?.detail ?? '', /127\.0\.0\.1 is not in the cert's list/);
      assert.deepEqual(
        rejections.map((r) => r.reason),
        ['hostname_mismatch'],
      );
      const client = await connect({ serverName: 'db.elsewhere.example' });
      await client.end();
    } finally {
      const leaf = await serverLeaf();
      await db.reloadServerCert({ chainPem: leaf.certPem, keyPem: leaf.keyPem });
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
      assert.equal(error.code, 'CERT_HAS_EXPIRED');
      assert.deepEqual(refusal && { by: refusal.by, reason: refusal.reason }, {
        by: 'client',
        reason: 'cert_expired',
      });
    } finally {
      const leaf = await serverLeaf();
      await db.reloadServerCert({ chainPem: leaf.certPem, keyPem: leaf.keyPem });
    }
  });

  test('the server refuses a certificate whose CN is not the database user', async () => {
    const intruder = await clientCredentials('intruder', 'intruder', ca);
    try {
      const { error, refusal } = await refused({ credentials: intruder });
      assert.equal(error.code, '28000');
      assert.match(error.message, /certificate authentication failed for user "tessera-db"/);
      assert.deepEqual(refusal && { by: refusal.by, reason: refusal.reason }, {
        by: 'server',
        reason: 'client_cert_refused',
      });
    } finally {
      intruder.close();
    }
  });

  test('the server refuses a client certificate from a CA it does not trust', async () => {
    // We trust both CAs (so the server passes our check); the server trusts only its own for clients.
    const foreign = await clientCredentials('foreign', USER, otherCa, `${ca.certPem}${otherCa.certPem}`);
    try {
      const { error, refusal } = await refused({ credentials: foreign });
      assert.equal(error.code, 'ERR_SSL_TLSV1_ALERT_UNKNOWN_CA');
      assert.deepEqual(refusal && { by: refusal.by, reason: refusal.reason }, {
        by: 'server',
        reason: 'client_cert_refused',
      });
    } finally {
      foreign.close();
    }
  });

  test('TLS 1.2 is the floor: a 1.2-only server is reached, unless minVersion asks for 1.3', async () => {
    await db.query(`ALTER SYSTEM SET ssl_max_protocol_version = 'TLSv1.2'`);
    await db.reload();
    try {
      const client = await connect();
      assert.equal((await ownSsl(client)).version, 'TLSv1.2');
      await client.end();
      const { refusal } = await refused({ minVersion: 'TLSv1.3' });
      assert.deepEqual(refusal && { by: refusal.by, reason: refusal.reason }, {
        by: 'server',
        reason: 'protocol_version',
      });
    } finally {
      await db.query('ALTER SYSTEM RESET ssl_max_protocol_version');
      await db.reload();
    }
    const client = await connect({ minVersion: 'TLSv1.3' });
    assert.equal((await ownSsl(client)).version, 'TLSv1.3');
    await client.end();
  });

  test('rotation under load: no failed query, and every connection ends up on the new certificate', async () => {
    const rotating = await clientMaterial('rotating', USER, ca);
    // The real reload path: the source watches the directory and reloads when the files are replaced.
    const source = await openStaticCredentials(rotating, { watch: true, debounceMs: 20 });
    const pool = new pg.Pool({
      host: db.host,
      port: db.port,
      user: USER,
      database: 'postgres',
      max: 4,
      ssl: pgSslOptions({ credentials: source, logger: silentLogger }),
    });
    pool.on('error', () => {});
    const stopRecycling = recyclePgPool(pool, source);
    let removed = 0;
    pool.on('remove', () => removed++);
    const serialsOnServer = async () =>
      (
        await db.query<{ client_serial: string }>(
          'SELECT s.client_serial::text FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) WHERE a.usename = $1',
          [USER],
        )
      ).map((row) => row.client_serial);
    const load = startQueryLoad(8, () => pool.query('SELECT pg_backend_pid(), now()'));
    try {
      await load.progress(200);
      const oldSerial = decimalSerial(source.material.leaf.serial);
      assert.deepEqual(new Set(await serialsOnServer()), new Set([oldSerial]));
      assert.equal(pool.totalCount, 4);

      const next = await ca.issue(USER);
      const changed = nextChange(source, (m) => m.leaf.fingerprint256 === fingerprintOf(next.certPem));
      await replaceFile(rotating.keyPath, next.keyPem, 0o600);
      await replaceFile(rotating.certPath, next.chainPem);
      const material = await changed;
      const newSerial = decimalSerial(material.leaf.serial);

      // Old connections are retired as their queries finish; new ones present the new certificate.
      await until('all server sessions on the new certificate', async () => {
        const serials = await serialsOnServer();
        return serials.length > 0 && serials.every((serial) => serial === newSerial);
      });
      await load.progress(200);
      assert.ok(removed >= 4, `expected the 4 old connections to be retired, saw ${removed}`);
    } finally {
      const { ok, failures } = await load.stop();
      stopRecycling();
      await pool.end();
      source.close();
      assert.deepEqual(failures, [], `${failures.length} of ${ok + failures.length} queries failed`);
    }
  });
});
