// Opening the SQLite store on real files: schema migrations, owner-only file modes, refusal of a newer
// schema or a file that is not a database, and durability of a commit across close and reopen.

import assert from 'node:assert/strict';
import { chmod, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { factId } from '../../src/node/features/facts/fact-id.ts';
import { StoreError } from '../../src/store/errors.ts';
import { FACT_COLUMNS, factParams } from '../../src/store/sqlite/facts.ts';
import { MIGRATIONS } from '../../src/store/sqlite/migrations.ts';
import { openSqliteStore } from '../../src/store/sqlite/open.ts';
import { fact } from './contract/records.ts';
import { tempStore } from './fixtures.ts';

async function mode(path: string): Promise<number> {
  return (await stat(path)).mode & 0o777;
}

function inspect(file: string): { version: number; tables: string[]; journal: string } {
  const db = new Database(file, { readonly: true });
  try {
    return {
      version: db.pragma('user_version', { simple: true }) as number,
      tables: db
        .prepare<[], string>(
          "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
        )
        .pluck()
        .all(),
      journal: db.pragma('journal_mode', { simple: true }) as string,
    };
  } finally {
    db.close();
  }
}

test('a new file gets the whole schema in WAL mode; reopening applies nothing again and keeps the data', async () => {
  const t = await tempStore();
  try {
    await t.store.insertFact(fact({ id: 'kept' }));
    await t.store.setMeta('marker', 'one');
    const first = inspect(t.file);
    assert.equal(first.version, MIGRATIONS.length);
    assert.equal(first.journal, 'wal');
    for (const table of ['facts', 'peers', 'pull_cursors', 'seen_jtis', 'meta', 'api_keys', 'audit_log'])
      assert.ok(first.tables.includes(table), `table ${table} exists`);

    const store = await t.reopen();
    assert.deepEqual(inspect(t.file), first, 'the same version and tables after reopen');
    assert.equal((await store.getFact('kept'))?.id, 'kept');
    assert.equal(await store.getMeta('marker'), 'one');
  } finally {
    await t.cleanup();
  }
});

test('the directory is created 0700 and the database and its -wal/-shm files are 0600', async () => {
  const t = await tempStore();
  try {
    await t.store.insertFact(fact());
    assert.equal(await mode(join(t.dir, 'data')), 0o700);
    for (const suffix of ['', '-wal', '-shm'])
      assert.equal(await mode(t.file + suffix), 0o600, `tessera.db${suffix}`);
  } finally {
    await t.cleanup();
  }
});

test('an existing database file with a looser mode is narrowed to 0600 on open', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'tessera-store-'));
  const file = join(dir, 'tessera.db');
  try {
    await writeFile(file, '');
    await chmod(file, 0o644);
    const store = await openSqliteStore(file);
    await store.close();
    assert.equal(await mode(file), 0o600);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a version-1 database (facts, peers, meta) is upgraded on open: data kept, keys and audit usable', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'tessera-store-'));
  const file = join(dir, 'tessera.db');
  const old = fact({ id: 'from-v1', origin_sig: null });
  try {
    const db = new Database(file);
    db.exec(MIGRATIONS[0]!);
    db.pragma('user_version = 1');
    // Version 1 had neither origin signatures nor derived ids.
    const columns = FACT_COLUMNS.replace('seq, ', '').replace(', origin_kid, origin_sig', '');
    db.prepare(`INSERT INTO facts (${columns}) VALUES (${columns.replace(/\w+/g, '?')})`).run(
      ...factParams(old).slice(0, -2),
    );
    db.prepare('INSERT INTO meta (key, value) VALUES (?, ?)').run('node_id', 'n1');
    db.prepare(
      "INSERT INTO peers VALUES ('p1', 'spiffe://example.org/node/p1', 'https://127.0.0.1:1', 'k', 'kid', 'fp', 'spki', 'approved', '[\"company\"]', 'now', 'now')",
    ).run();
    db.prepare("INSERT INTO pull_cursors (peer_id, cursor) VALUES ('p1', '42.tag')").run();
    db.close();

    const store = await openSqliteStore(file);
    try {
      // Migration 5: the id is now derived from the CID (the same on every node), the old one an alias.
      const migrated = { ...old, id: factId(old.cid) };
      assert.deepEqual(await store.getFact(migrated.id), migrated);
      assert.deepEqual(await store.getFact('from-v1'), migrated, 'the old id still finds the fact');
      assert.deepEqual(await store.factsToSign(old.origin_node_id, 'any-key', 10), [migrated], 'unsigned');
      assert.equal(await store.getPullCursor('p1'), null, 'every feed is read once more from the start');
      assert.equal(await store.getMeta('node_id'), 'n1');
      await store.addApiKey({
        id: 'k1',
        entityUri: 'spiffe://example.org/client/1',
        permissions: ['read'],
        secretHash: 'scrypt$16384$8$1$c2FsdA$aGFzaA',
        description: null,
        createdAt: '2025-11-23T10:00:00.000Z',
        expiresAt: null,
        revokedAt: null,
      });
      const entry = await store.appendAudit(() => ({
        seq: 1,
        ts: '2025-11-23T10:00:00.000Z',
        event_type: 'store.upgraded',
        principal: null,
        detail: {},
        prev_hash: '0'.repeat(64),
        hash: 'a'.repeat(64),
      }));
      assert.equal(entry.seq, 1);
      assert.equal((await store.getApiKey('k1'))?.id, 'k1');
    } finally {
      await store.close();
    }
    const after = inspect(file);
    assert.equal(after.version, MIGRATIONS.length);
    for (const table of ['api_keys', 'audit_log']) assert.ok(after.tables.includes(table), table);
    const check = new Database(file, { readonly: true });
    const indexes = check
      .prepare<[], string>("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'audit_log'")
      .pluck()
      .all()
      .sort();
    check.close();
    assert.deepEqual(indexes, ['audit_log_event_type', 'audit_log_principal', 'audit_log_ts']);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a database written by a newer release is refused with schema_too_new, naming the file', async () => {
  const t = await tempStore();
  await t.store.close();
  const db = new Database(t.file);
  db.pragma(`user_version = ${MIGRATIONS.length + 1}`);
  db.close();
  try {
    await assert.rejects(openSqliteStore(t.file), (error: unknown) => {
      assert.ok(error instanceof StoreError);
      assert.equal(error.code, 'schema_too_new');
      assert.match(error.message, new RegExp(`${t.file}.*version ${MIGRATIONS.length + 1}`));
      return true;
    });
  } finally {
    await rm(t.dir, { recursive: true, force: true });
  }
});

test('a file that is not a SQLite database is refused with store_open_failed', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'tessera-store-'));
  const file = join(dir, 'tessera.db');
  try {
    await writeFile(
      file,
      'this is not a database, just some text that is long enough to have a header\n'.repeat(20),
    );
    await assert.rejects(openSqliteStore(file), (error: unknown) => {
      assert.ok(error instanceof StoreError);
      assert.equal(error.code, 'store_open_failed');
      assert.match(error.message, /not a database/);
      assert.ok(error.message.includes(file));
      return true;
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a file path is required: :memory: is refused', async () => {
  await assert.rejects(openSqliteStore(':memory:'), { name: 'TypeError', message: /needs a file path/ });
});
