// The SQLite schema as an ordered list of steps. Step i brings the database to version i + 1, tracked in
// `PRAGMA user_version`; pending steps run in one IMMEDIATE transaction, so a crash or a second process
// opening the same file never sees half a schema. Never edit a released step: append a new one.
import type Database from 'better-sqlite3';
import { StoreError } from '../errors.ts';

/** factId(cid) in SQL: hex digits 1–12, '8', 14–16, the variant digit (8, 9, a or b), 18–32 (cid = 'sha256:' + hex). */
const DERIVED_FACT_ID = `(substr(cid, 8, 8) || '-' || substr(cid, 16, 4) || '-8' || substr(cid, 21, 3) || '-' ||
  substr('89ab89ab89ab89ab', instr('0123456789abcdef', substr(cid, 24, 1)), 1) ||
  substr(cid, 25, 3) || '-' || substr(cid, 28, 12))`;

export const MIGRATIONS: readonly string[] = [
  // 1: facts, peers, pull cursors, token ids, meta.
  `
  CREATE TABLE facts (
    seq            INTEGER PRIMARY KEY AUTOINCREMENT, -- local insertion order; never reused
    id             TEXT NOT NULL UNIQUE,
    cid            TEXT NOT NULL UNIQUE,
    entity         TEXT NOT NULL,
    relation       TEXT NOT NULL,
    value          TEXT NOT NULL,                     -- JSON {type, v}
    source         TEXT NOT NULL,
    confidence     REAL NOT NULL,
    scope          TEXT NOT NULL CHECK (scope IN ('local', 'team', 'company', 'public')),
    timestamp      TEXT NOT NULL,
    valid_until    TEXT,
    hlc            TEXT NOT NULL,
    attested       TEXT,                              -- JSON, NULL when unattested
    received_from  TEXT,
    origin_node_id TEXT NOT NULL
  );
  -- Every index ends with the rowid (= seq), so an equality filter reads its rows already in seq order.
  CREATE INDEX facts_entity ON facts (entity);
  CREATE INDEX facts_relation ON facts (relation);
  CREATE INDEX facts_source ON facts (source);
  CREATE INDEX facts_scope ON facts (scope);
  CREATE INDEX facts_origin ON facts (origin_node_id);

  CREATE TABLE peers (
    id              TEXT PRIMARY KEY,
    entity_uri      TEXT NOT NULL UNIQUE,
    federation_url  TEXT NOT NULL,
    public_key      TEXT NOT NULL,
    key_id          TEXT NOT NULL,
    fingerprint     TEXT NOT NULL,
    tls_spki_sha256 TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'revoked')),
    allowed_scopes  TEXT NOT NULL,                    -- JSON array of scopes
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
  );

  CREATE TABLE pull_cursors (
    peer_id TEXT PRIMARY KEY REFERENCES peers (id) ON DELETE CASCADE,
    cursor  TEXT NOT NULL
  ) WITHOUT ROWID;

  CREATE TABLE seen_jtis (
    jti        TEXT PRIMARY KEY,
    expires_at INTEGER NOT NULL                       -- unix seconds
  ) WITHOUT ROWID;
  CREATE INDEX seen_jtis_expiry ON seen_jtis (expires_at);

  CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
  ) WITHOUT ROWID;
  `,
  // 2: managed API keys and the tamper-evident audit log.
  `
  CREATE TABLE api_keys (
    id          TEXT PRIMARY KEY,                     -- public key id, the token's prefix
    entity_uri  TEXT NOT NULL,
    permissions TEXT NOT NULL,                        -- JSON array of permissions
    secret_hash TEXT NOT NULL,                        -- scrypt$N$r$p$salt$hash; never the secret
    description TEXT,
    created_at  TEXT NOT NULL,
    expires_at  TEXT,
    revoked_at  TEXT
  ) WITHOUT ROWID;

  -- seq is chosen by the caller's builder (last + 1, checked on insert), not by SQLite: the hash chain
  -- covers it, so it must be known before the row is written.
  CREATE TABLE audit_log (
    seq        INTEGER PRIMARY KEY,
    ts         TEXT NOT NULL,                         -- RFC 3339 UTC
    event_type TEXT NOT NULL,
    principal  TEXT,
    detail     TEXT NOT NULL,                         -- JSON object
    prev_hash  TEXT NOT NULL,
    hash       TEXT NOT NULL
  );
  CREATE INDEX audit_log_event_type ON audit_log (event_type);
  CREATE INDEX audit_log_principal ON audit_log (principal);
  CREATE INDEX audit_log_ts ON audit_log (ts);
  `,
  // 3: peers' rotated and issuer keys, issued capabilities, replicated capability revocations.
  `
  CREATE TABLE peer_keys (
    peer_id    TEXT NOT NULL REFERENCES peers (id) ON DELETE CASCADE,
    kind       TEXT NOT NULL CHECK (kind IN ('node', 'issuer')),
    key_id     TEXT NOT NULL,
    public_key TEXT NOT NULL,
    not_after  TEXT,                                  -- RFC 3339 UTC; NULL = current key, no end
    added_at   TEXT NOT NULL,
    PRIMARY KEY (peer_id, kind, key_id)
  ) WITHOUT ROWID;
  CREATE INDEX peer_keys_not_after ON peer_keys (not_after);

  CREATE TABLE capabilities (
    id         TEXT PRIMARY KEY,
    issuer     TEXT NOT NULL,
    subject    TEXT NOT NULL,
    verb       TEXT NOT NULL,
    object     TEXT NOT NULL,
    key_id     TEXT NOT NULL,
    issued_at  TEXT NOT NULL,
    expires_at TEXT NOT NULL
  ) WITHOUT ROWID;

  -- seq is the replication cursor (local insertion order), as for facts.
  CREATE TABLE capability_revocations (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    capability_id TEXT NOT NULL UNIQUE,
    issuer        TEXT NOT NULL,
    expires_at    TEXT NOT NULL,
    revoked_at    TEXT NOT NULL,
    reason        TEXT
  );
  CREATE INDEX capability_revocations_issuer ON capability_revocations (issuer);
  `,
  // 4: revocations are unique per (issuer, capability_id), not per id alone: a capability id is chosen by
  // its issuer, so another peer's record with the same id must not take its place. The table is rebuilt
  // keeping every row and its seq (peers' cursors), and the AUTOINCREMENT high-water mark moves with it.
  `
  CREATE TABLE capability_revocations_v4 (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    capability_id TEXT NOT NULL,
    issuer        TEXT NOT NULL,
    expires_at    TEXT NOT NULL,
    revoked_at    TEXT NOT NULL,
    reason        TEXT,
    UNIQUE (issuer, capability_id)
  );
  INSERT INTO capability_revocations_v4 (seq, capability_id, issuer, expires_at, revoked_at, reason)
    SELECT seq, capability_id, issuer, expires_at, revoked_at, reason FROM capability_revocations ORDER BY seq;
  DELETE FROM sqlite_sequence WHERE name = 'capability_revocations_v4';
  UPDATE sqlite_sequence SET name = 'capability_revocations_v4' WHERE name = 'capability_revocations';
  DROP TABLE capability_revocations;
  ALTER TABLE capability_revocations_v4 RENAME TO capability_revocations;
  `,
  // 5: origin signatures, and fact ids derived from CIDs (facts/fact-id.ts): the first 32 hex digits of the
  // CID as a version-8 UUID. Older random ids stay findable as aliases. Facts stored before this step are
  // unsigned: the node signs its own at start; others' are not served to peers until a signed copy arrives.
  // Pull cursors are reset so this node reads every peer's feed once more.
  `
  ALTER TABLE facts ADD COLUMN origin_kid TEXT;
  ALTER TABLE facts ADD COLUMN origin_sig TEXT;
  CREATE INDEX facts_origin_kid ON facts (origin_node_id, origin_kid);
  CREATE TABLE fact_aliases (
    alias TEXT PRIMARY KEY,
    cid   TEXT NOT NULL
  );
  INSERT INTO fact_aliases (alias, cid) SELECT id, cid FROM facts WHERE id <> ${DERIVED_FACT_ID};
  UPDATE facts SET id = ${DERIVED_FACT_ID} WHERE id <> ${DERIVED_FACT_ID};
  -- Facts feeds are read once more from the start: what the old version refused (signed records it did not
  -- know) arrives again, and copies we hold take their origin's signature. Ingest is idempotent.
  DELETE FROM pull_cursors;
  `,
  // 6: the fact log (ports/fact-log.ts): each stored fact's dense log index in seq order, and the hashes of
  // its Merkle tree. Facts stored before this step are appended by the node (oldest first) after it starts.
  `
  CREATE TABLE fact_log (
    log_index INTEGER PRIMARY KEY,                   -- 0, 1, 2, … with no gap
    seq       INTEGER NOT NULL UNIQUE,               -- facts.seq
    cid       TEXT NOT NULL UNIQUE
  );
  CREATE TABLE fact_log_nodes (
    level INTEGER NOT NULL,                          -- 0 = leaf hashes
    idx   INTEGER NOT NULL,
    hash  TEXT NOT NULL,                             -- hex SHA-256
    PRIMARY KEY (level, idx)
  ) WITHOUT ROWID;
  `,
  // 7: certificate-bound API keys (RFC 8705 `cnf` `x5t#S256`): the base64url SHA-256 of the client
  // certificate a key may only be used with; NULL for a plain bearer key.
  `
  ALTER TABLE api_keys ADD COLUMN cert_sha256 TEXT;
  `,
  // 8: per-peer address allowlists: the CIDR networks an approved peer's federation requests must come from
  // (JSON array); NULL: any address.
  `
  ALTER TABLE peers ADD COLUMN allowed_cidrs TEXT;
  `,
];

function userVersion(db: Database.Database): number {
  return db.pragma('user_version', { simple: true }) as number;
}

function refuseNewer(file: string, version: number): void {
  if (version > MIGRATIONS.length)
    throw new StoreError(
      'schema_too_new',
      `${file} has schema version ${version} but this Tessera knows versions up to ${MIGRATIONS.length}: ` +
        'it was written by a newer release; run that release (or restore a backup)',
    );
}

/** Brings the database to the latest schema; returns the version it was at before. */
export function migrate(db: Database.Database, file: string): number {
  const before = userVersion(db);
  refuseNewer(file, before);
  if (before === MIGRATIONS.length) return before;
  db.exec('BEGIN IMMEDIATE');
  try {
    // Another process may have migrated between the read above and taking the write lock.
    const current = userVersion(db);
    refuseNewer(file, current);
    for (let version = current; version < MIGRATIONS.length; version++) {
      db.exec(MIGRATIONS[version]!);
      db.pragma(`user_version = ${version + 1}`);
    }
    db.exec('COMMIT');
  } catch (error) {
    if (db.inTransaction) db.exec('ROLLBACK');
    throw error;
  }
  return before;
}
