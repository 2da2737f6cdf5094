// A node on PostgreSQL over verified mutual TLS, end to end: node A keeps its state in a private PostgreSQL
// (`hostssl … cert`: the node's own certificate is its database login), B in SQLite. A fact written on A is
// stored in PostgreSQL and replicates to B; A restarted on the same database still has it; the CLI reads
// the same state with the same settings (audit verify); a server certificate that does not name the host is
// refused with the reason; the password in the URL never reaches a log line.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runCli } from '../support/child.ts';
import { fact } from '../support/node-process.ts';
import { createTestCa, type TestCa } from '../support/pki.ts';
import { type PrivatePostgres, postgresBinaries, startPrivatePostgres } from '../support/private-postgres.ts';
import { REQUIRE_DB_SERVERS } from '../support/private-server.ts';
import { addAndApproveUrl, startTlsNode, type TlsNode } from '../support/tls-node.ts';

const skip =
  postgresBinaries() || REQUIRE_DB_SERVERS
    ? false
    : 'PostgreSQL server binaries not found (pg_config --bindir, /usr/lib/postgresql/*/bin, PATH)';
const PASSWORD = 'Never-Logged-Pw-7c1e';

describe('a node on PostgreSQL over verified mTLS', { skip, timeout: 180_000 }, () => {
  let ca: TestCa;
  let db: PrivatePostgres;
  let root: string;
  let a: TlsNode | undefined;
  let b: TlsNode;
  let env: Record<string, string>;

  before(async () => {
    ca = await createTestCa();
    root = await mkdtemp(join(tmpdir(), 'tessera-pg-node-'));
    const server = await ca.issue('db-server');
    db = await startPrivatePostgres({ serverCert: server, clientCaPem: ca.certPem });
    // Under `cert` the certificate's CN is the login: node A's certificate says CN=a.
    await db.createUser('a');
    // A's tables go into its own schema (first on the default search_path "$user"), where the superuser's
    // connection to the same database can read them back.
    await db.query('CREATE SCHEMA a AUTHORIZATION a');
    // The password is accepted and ignored by `cert` authentication: it is here to prove it is never logged.
    env = { TESSERA_DATABASE_URL: `postgres://a:${PASSWORD}@${db.host}:${db.port}/postgres` };
    [a, b] = await Promise.all([
      startTlsNode({ name: 'a', ca, root, env }),
      startTlsNode({ name: 'b', ca, root }),
    ]);
    await addAndApproveUrl(a, b.node.federationUrl);
    await addAndApproveUrl(b, a.node.federationUrl);
  });
  after(async () => {
    await Promise.all([a?.close(), b?.close()]);
    await db?.stop();
    await rm(root, { recursive: true, force: true });
  });

  test('facts written on A live in PostgreSQL, replicate to B and survive a restart of A', async () => {
    const written = await a!.api<{ id: string; cid: string }>('POST', '/v1/facts', fact('test:pg/1'));
    assert.equal(written.status, 201, JSON.stringify(written.body));
    const rows = await db.query<{ id: string; origin_kid: string }>(
      'SELECT id, origin_kid FROM a.facts WHERE cid = $1',
      [written.body.cid],
    );
    assert.deepEqual(
      rows.map((row) => row.id),
      [written.body.id],
      'the row is in PostgreSQL',
    );
    assert.ok(rows[0]?.origin_kid, 'signed by its origin');
    await b.node.puller.pullNow(b.node.peers.byEntityUri(a!.entityUri)!.id);
    const onB = await b.api<{ id: string }>('GET', `/v1/facts/${written.body.cid}`);
    assert.equal(onB.status, 200);
    assert.equal(onB.body.id, written.body.id);

    await a!.close();
    a = await startTlsNode({ name: 'a', ca, root, env });
    const again = await a.api<{ id: string }>('GET', `/v1/facts/${written.body.cid}`);
    assert.equal(again.status, 200, 'kept in PostgreSQL across the restart');
    assert.equal(again.body.id, written.body.id);
    for (const line of a.logs)
      assert.ok(!JSON.stringify(line).includes(PASSWORD), 'the password is never logged');
  });

  test('the CLI opens the same state with the same settings: audit verify on PostgreSQL', async () => {
    const tls = a!.tls;
    const verified = await runCli(['audit', 'verify', '--json', '--data-dir', a!.dataDir], {
      env: {
        ...env,
        TESSERA_TLS_CERT_PATH: tls.certPath,
        TESSERA_TLS_KEY_PATH: tls.keyPath,
        TESSERA_TLS_CA_BUNDLE: tls.caPath,
      },
    });
    assert.equal(verified.code, 0, verified.stderr);
    const result = JSON.parse(verified.stdout) as { ok: boolean; count: number; source: string };
    assert.equal(result.ok, true);
    assert.ok(result.count >= 1, 'the entries the node wrote (peer approvals, the fact write)');
    assert.equal(result.source, `postgres://a:***@${db.host}:${db.port}/postgres`);
    assert.ok(!verified.stdout.includes(PASSWORD) && !verified.stderr.includes(PASSWORD));
  });

  test('a database server whose certificate does not name the host is refused with the reason', async () => {
    const elsewhere = await ca.issue('db-elsewhere', { ips: ['127.0.0.2'], dnsNames: ['db.example.org'] });
    await db.reloadServerCert(elsewhere);
    try {
      const tls = a!.tls;
      const refused = await runCli(['audit', 'verify', '--data-dir', a!.dataDir], {
        env: {
          ...env,
          TESSERA_TLS_CERT_PATH: tls.certPath,
          TESSERA_TLS_KEY_PATH: tls.keyPath,
          TESSERA_TLS_CA_BUNDLE: tls.caPath,
        },
      });
      assert.equal(refused.code, 2, refused.stdout);
      assert.match(
        refused.stderr,
        /cannot open the PostgreSQL database 127\.0\.0\.1:\d+\/postgres: .*(IP: 127\.0\.0\.1 is not in the cert's list|hostname_mismatch|does not match)/i,
      );
      assert.ok(!refused.stderr.includes(PASSWORD));
    } finally {
      await db.reloadServerCert(await ca.issue('db-server'));
    }
  });
});
