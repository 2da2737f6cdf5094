// `tessera keys bootstrap` as a real child process against a real SQLite store that this test process
// holds open at the same time (as a running node does): the key is printed once and works, the database
// holds only its hash, a second bootstrap is refused unless --force, and bad arguments fail clearly.
import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { ApiKeys } from '../../src/node/features/auth/api-keys.ts';
import { thumbprintOfPem } from '../../src/node/features/auth/cert-binding.ts';
import { openSqliteStore } from '../../src/store/sqlite/open.ts';
import { runCli } from '../support/child.ts';
import { createTestCa, tempDir } from '../support/pki.ts';

describe('tessera keys bootstrap', () => {
  test('prints a working admin key once; refuses a second bootstrap; --force adds another', async (t) => {
    const dataDir = await tempDir(t, 'tessera-keys-cli-');
    const store = await openSqliteStore(join(dataDir, 'tessera.db'));
    t.after(() => store.close());
    const apiKeys = new ApiKeys({ store });

    const first = await runCli(['keys', 'bootstrap', '--data-dir', dataDir, '--json']);
    assert.equal(first.code, 0, first.stderr);
    const made = JSON.parse(first.stdout) as Record<string, unknown>;
    const token = made.key as string;
    assert.match(token, /^tsk_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$/);
    assert.deepEqual(
      { ...made, id: undefined, key: undefined, created_at: undefined },
      {
        id: undefined,
        key: undefined,
        created_at: undefined,
        entity_uri: 'urn:tessera:bootstrap-admin',
        permissions: ['read', 'write', 'federate', 'admin', 'audit.read'],
        expires_at: null,
        description: 'bootstrap admin key (tessera keys bootstrap)',
      },
    );
    assert.equal(first.stdout.split(token).length - 1, 1, 'the key is printed exactly once');
    assert.equal(first.stderr, '');

    // The store the "node" had open all along sees the key and verifies it.
    const verified = await apiKeys.verify(token);
    assert.ok(verified.ok);
    assert.equal(verified.principal.keyId, made.id);
    assert.ok(verified.principal.permissions.includes('admin'));
    const secret = token.slice(17);
    for (const file of ['tessera.db', 'tessera.db-wal']) {
      const bytes = await readFile(join(dataDir, file)).catch(() => Buffer.alloc(0));
      assert.equal(bytes.includes(secret), false, `${file} holds no secret`);
    }

    const second = await runCli(['keys', 'bootstrap', '--data-dir', dataDir]);
    assert.equal(second.code, 1);
    assert.equal(second.stdout, '');
    assert.match(
      second.stderr,
      /^tessera: an active admin API key already exists in .*tessera\.db; .*--force/,
    );
    assert.equal((await apiKeys.list()).length, 1, 'nothing was created');

    const forced = await runCli([
      'keys',
      'bootstrap',
      '--data-dir',
      dataDir,
      '--force',
      '--entity-uri',
      'spiffe://example.org/ops/alice',
      '--permissions',
      'admin,audit.read',
    ]);
    assert.equal(forced.code, 0, forced.stderr);
    const printed = forced.stdout.match(/tsk_[0-9a-f]{12}_[A-Za-z0-9_-]{43}/g) ?? [];
    assert.equal(printed.length, 1, 'the text output shows the key once');
    assert.match(forced.stdout, /shown this once/);
    const again = await apiKeys.verify(printed[0] as string);
    assert.ok(again.ok);
    assert.deepEqual(again.principal.permissions, ['admin', 'audit.read']);
    assert.equal(again.principal.entityUri, 'spiffe://example.org/ops/alice');
  });

  test('refuses a missing data directory, a key without admin, unknown permissions and a non-URI entity', async (t) => {
    const root = await tempDir(t, 'tessera-keys-cli-bad-');
    const missing = await runCli(['keys', 'bootstrap', '--data-dir', join(root, 'typo')]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /^tessera: no data directory .*typo: give the node's --data-dir/);

    await mkdir(join(root, 'data'));
    const cases: [string[], RegExp][] = [
      [['--permissions', 'read,write'], /--permissions: a bootstrap key needs admin/],
      [['--permissions', 'admin,root'], /--permissions: unknown root/],
      [['--entity-uri', 'not a uri'], /--entity-uri must be an absolute URI/],
    ];
    for (const [args, message] of cases) {
      const result = await runCli(['keys', 'bootstrap', '--data-dir', join(root, 'data'), ...args]);
      assert.equal(result.code, 1, args.join(' '));
      assert.match(result.stderr, message);
      assert.equal(result.stdout, '');
    }
  });

  test('--bind-cert binds the key to a certificate (cnf x5t#S256); a file without one is refused', async (t) => {
    const dataDir = await tempDir(t, 'tessera-keys-bind-');
    const ca = await createTestCa('Bind CA');
    const ops = await ca.issue('ops');
    const certFile = join(dataDir, 'ops.crt');
    await mkdir(dataDir, { recursive: true });
    await writeFile(certFile, ops.certPem);
    const made = await runCli([
      'keys',
      'bootstrap',
      '--data-dir',
      dataDir,
      '--bind-cert',
      certFile,
      '--json',
    ]);
    assert.equal(made.code, 0, made.stderr);
    const view = JSON.parse(made.stdout) as { key: string; cnf: { 'x5t#S256': string } };
    assert.equal(view.cnf['x5t#S256'], thumbprintOfPem(ops.certPem));
    const store = await openSqliteStore(join(dataDir, 'tessera.db'));
    t.after(() => store.close());
    const verified = await new ApiKeys({ store }).verify(view.key);
    assert.equal(verified.ok && verified.principal.certSha256, thumbprintOfPem(ops.certPem));

    const notPem = join(dataDir, 'not.crt');
    await writeFile(notPem, 'hello');
    const refused = await runCli([
      'keys',
      'bootstrap',
      '--data-dir',
      dataDir,
      '--force',
      '--bind-cert',
      notPem,
    ]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /--bind-cert: .*not\.crt holds no PEM certificate/);
  });
});
