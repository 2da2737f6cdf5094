// The PostgreSQL schema as an ordered list of steps. Step i brings the schema to version i + 1, recorded in
// `schema_migrations`. Pending steps run while holding a session advisory lock (one per schema), so N
// replicas starting together migrate once: the others wait, then find nothing to do. Each step commits
// with its version row, so a crash never leaves half a step. Never edit a released step: append a new one.
import { StoreError } from '../errors.ts';
import type { AdvisoryLocks } from './locks.ts';
import type { Sql } from './sql.ts';

/**
 * Text compares byte-wise (as SQLite's BINARY does), whatever the database's collation: HLCs, timestamps
 * and ids are ordered and bounded as strings (max(hlc), ts ranges, not_after < …, ORDER BY created_at).
 */
const TEXT = 'text COLLATE "C"';

/** The schema steps, oldest first: version = index + 1. */
export const MIGRATIONS: readonly string[] = [
  // 1: SQLite's schema at its version 5, in one step (a PostgreSQL database has no older history).
  // Indexes end with seq where pages are keyset-paged by seq, so an equality filter reads in seq order.
  `
  CREATE TABLE facts (
    -- Local insertion order; never reused. The sequence must keep CACHE 1 (the default): a session that
    -- cached values ahead could commit a lower seq after another session's higher one.
    seq            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id             ${TEXT} NOT NULL UNIQUE,
    cid            ${TEXT} NOT NULL UNIQUE,
    entity         ${TEXT} NOT NULL,
    relation       ${TEXT} NOT NULL,
    value          ${TEXT} NOT NULL,                                -- JSON {type, v}, as given
    source         ${TEXT} NOT NULL,
    -- SQLite stores NaN as NULL and refuses it as NOT NULL: the same record is refused here.
    confidence     double precision NOT NULL CHECK (confidence <> 'NaN'),
    scope          ${TEXT} NOT NULL CHECK (scope IN ('local', 'team', 'company', 'public')),
    timestamp      ${TEXT} NOT NULL,
    valid_until    ${TEXT},
    hlc            ${TEXT} NOT NULL,
    attested       ${TEXT},                                         -- JSON, NULL when unattested
    received_from  ${TEXT},
    origin_node_id ${TEXT} NOT NULL,
    origin_kid     ${TEXT},
    origin_sig     ${TEXT}
  );
  CREATE INDEX facts_entity ON facts (entity, seq);
  CREATE INDEX facts_relation ON facts (relation, seq);
  CREATE INDEX facts_source ON facts (source, seq);
  CREATE INDEX facts_scope ON facts (scope, seq);
  CREATE INDEX facts_origin ON facts (origin_node_id, seq);
  CREATE INDEX facts_origin_kid ON facts (origin_node_id, origin_kid);

  -- Former fact ids (before ids were derived from CIDs), kept findable.
  CREATE TABLE fact_aliases (
    alias ${TEXT} PRIMARY KEY,
    cid   ${TEXT} NOT NULL
  );

  CREATE TABLE peers (
    id              ${TEXT} PRIMARY KEY,
    entity_uri      ${TEXT} NOT NULL UNIQUE,
    federation_url  ${TEXT} NOT NULL,
    public_key      ${TEXT} NOT NULL,
    key_id          ${TEXT} NOT NULL,
    fingerprint     ${TEXT} NOT NULL,
    tls_spki_sha256 ${TEXT} NOT NULL,
    status          ${TEXT} NOT NULL CHECK (status IN ('pending', 'approved', 'revoked')),
    allowed_scopes  ${TEXT} NOT NULL,                               -- JSON array of scopes
    created_at      ${TEXT} NOT NULL,
    updated_at      ${TEXT} NOT NULL
  );

  CREATE TABLE pull_cursors (
    peer_id ${TEXT} PRIMARY KEY REFERENCES peers (id) ON DELETE CASCADE,
    cursor  ${TEXT} NOT NULL
  );

  CREATE TABLE seen_jtis (
    jti        ${TEXT} PRIMARY KEY,
    expires_at double precision NOT NULL                             -- unix seconds (JWT NumericDate)
  );
  CREATE INDEX seen_jtis_expiry ON seen_jtis (expires_at);

  CREATE TABLE meta (
    key   ${TEXT} PRIMARY KEY,
    value ${TEXT} NOT NULL
  );

  CREATE TABLE api_keys (
    id          ${TEXT} PRIMARY KEY,                                -- public key id, the token's prefix
    entity_uri  ${TEXT} NOT NULL,
    permissions ${TEXT} NOT NULL,                                   -- JSON array of permissions
    secret_hash ${TEXT} NOT NULL,                                   -- scrypt$N$r$p$salt$hash; never the secret
    description ${TEXT},
    created_at  ${TEXT} NOT NULL,
    expires_at  ${TEXT},
    revoked_at  ${TEXT}
  );

  -- seq is chosen by the caller's builder (last + 1, checked on insert): the hash chain covers it.
  CREATE TABLE audit_log (
    seq        bigint PRIMARY KEY,
    ts         ${TEXT} NOT NULL,                                    -- RFC 3339 UTC
    event_type ${TEXT} NOT NULL,
    principal  ${TEXT},
    detail     ${TEXT} NOT NULL,                                    -- JSON object
    prev_hash  ${TEXT} NOT NULL,
    hash       ${TEXT} NOT NULL
  );
  CREATE INDEX audit_log_event_type ON audit_log (event_type, seq);
  CREATE INDEX audit_log_principal ON audit_log (principal, seq);
  CREATE INDEX audit_log_ts ON audit_log (ts);

  CREATE TABLE peer_keys (
    peer_id    ${TEXT} NOT NULL REFERENCES peers (id) ON DELETE CASCADE,
    kind       ${TEXT} NOT NULL CHECK (kind IN ('node', 'issuer')),
    key_id     ${TEXT} NOT NULL,
    public_key ${TEXT} NOT NULL,
    not_after  ${TEXT},                                             -- RFC 3339 UTC; NULL = current key
    added_at   ${TEXT} NOT NULL,
    PRIMARY KEY (peer_id, kind, key_id)
  );
  CREATE INDEX peer_keys_not_after ON peer_keys (not_after);

  CREATE TABLE capabilities (
    id         ${TEXT} PRIMARY KEY,
    issuer     ${TEXT} NOT NULL,
    subject    ${TEXT} NOT NULL,
    verb       ${TEXT} NOT NULL,
    object     ${TEXT} NOT NULL,
    key_id     ${TEXT} NOT NULL,
    issued_at  ${TEXT} NOT NULL,
    expires_at ${TEXT} NOT NULL
  );

  -- seq is the replication cursor (local insertion order), as for facts. An id is unique per issuer only.
  CREATE TABLE capability_revocations (
    seq           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    capability_id ${TEXT} NOT NULL,
    issuer        ${TEXT} NOT NULL,
    expires_at    ${TEXT} NOT NULL,
    revoked_at    ${TEXT} NOT NULL,
    reason        ${TEXT},
    UNIQUE (issuer, capability_id)
  );
  CREATE INDEX capability_revocations_issuer ON capability_revocations (issuer, seq);
  `,
  // 2: replicas of one node stamp a local write above max(hlc), read under the write lock: an index keeps
  // that read one index probe.
  `
  CREATE INDEX facts_hlc ON facts (hlc);
  `,
  // 3: quota token buckets shared by the replicas (units: token-milliseconds, as the in-memory bucket).
  `
  CREATE TABLE quota_buckets (
    key      ${TEXT} PRIMARY KEY,
    units    bigint NOT NULL,
    per_hour bigint NOT NULL,
    capacity bigint NOT NULL,                -- tokens (the burst; at most per_hour)
    at_ms    bigint NOT NULL,
    -- Whether the last take found a token (what the taking statement returns).
    took     boolean NOT NULL
  );
  `,
  // 4: the fact log (ports/fact-log.ts), as SQLite's step 6: each stored fact's dense log index in seq order
  // and the hashes of its Merkle tree, appended under the write lock, so every replica reads one tree.
  `
  CREATE TABLE fact_log (
    log_index bigint PRIMARY KEY,                    -- 0, 1, 2, … with no gap
    seq       bigint NOT NULL UNIQUE,                -- facts.seq
    cid       ${TEXT} NOT NULL UNIQUE
  );
  CREATE TABLE fact_log_nodes (
    level integer NOT NULL,                          -- 0 = leaf hashes
    idx   bigint NOT NULL,
    hash  ${TEXT} NOT NULL,                          -- hex SHA-256
    PRIMARY KEY (level, idx)
  );
  `,
  // 5: a take is a write on every request with a quota. Unlogged, it writes no WAL, so its commit does not
  // wait for a flush to disk and the row lock of a principal's bucket is held for microseconds, not for a
  // disk sync. What that costs: after a crash of the server (not a clean restart) the buckets are empty,
  // i.e. full again, and a standby has none; quotas then start over, as when a SQLite node restarts.
  `
  ALTER TABLE quota_buckets SET UNLOGGED;
  `,
  // 6: certificate-bound API keys, as SQLite's step 7 (RFC 8705 `cnf` `x5t#S256`, base64url SHA-256 of the
  // client certificate's DER; NULL for a plain bearer key).
  `
  ALTER TABLE api_keys ADD COLUMN cert_sha256 ${TEXT};
  `,
  // 7: per-peer address allowlists, as SQLite's step 8 (JSON array of CIDR networks; NULL: any address).
  `
  ALTER TABLE peers ADD COLUMN allowed_cidrs ${TEXT};
  `,
];

/** The table that records applied steps (one row per version). */
export const VERSION_TABLE = 'schema_migrations';

function refuseNewer(schema: string, version: number): void {
  if (version > MIGRATIONS.length)
    throw new StoreError(
      'schema_too_new',
      `the PostgreSQL schema ${schema} has version ${version} but this Tessera knows versions up to ` +
        `${MIGRATIONS.length}: it was written by a newer release; run that release (or restore a backup)`,
    );
}

async function currentVersion(sql: Pick<Sql, 'query'>): Promise<number> {
  const { rows } = await sql.query<{ version: number | null }>(
    `SELECT max(version) AS version FROM ${VERSION_TABLE}`,
  );
  return rows[0]?.version ?? 0;
}

/**
 * Brings `schema` (created if missing) to the latest version on `sql`, a single connection whose
 * search_path is that schema; returns the version it was at before. StoreError `schema_too_new` when a
 * newer release wrote it.
 */
export async function migrate(
  sql: Pick<Sql, 'query'>,
  schema: string,
  locks: AdvisoryLocks,
): Promise<number> {
  await sql.query(`SELECT pg_advisory_lock(${locks.migrate})`);
  let before: number;
  try {
    before = await migrateLocked(sql, schema);
  } catch (error) {
    await sql.query(`SELECT pg_advisory_unlock(${locks.migrate})`).catch(() => undefined);
    throw error;
  }
  // If this fails, so does the open, and the caller discards the connection (and the lock with it).
  await sql.query(`SELECT pg_advisory_unlock(${locks.migrate})`);
  return before;
}

async function migrateLocked(sql: Pick<Sql, 'query'>, schema: string): Promise<number> {
  // CREATE SCHEMA IF NOT EXISTS would still need the CREATE privilege on the database: ask first.
  const exists = await sql.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema]);
  if (exists.rowCount === 0) await sql.query(`CREATE SCHEMA ${schema}`);
  const { rows } = await sql.query<{ schema: string | null }>('SELECT current_schema() AS schema');
  if (rows[0]?.schema !== schema)
    throw new Error(`the connection's search_path does not start with the schema ${schema}`);
  await sql.query(
    `CREATE TABLE IF NOT EXISTS ${VERSION_TABLE} (
       version    integer PRIMARY KEY,
       applied_at timestamptz NOT NULL DEFAULT now()
     )`,
  );
  const before = await currentVersion(sql);
  refuseNewer(schema, before);
  for (let version = before; version < MIGRATIONS.length; version++) {
    await sql.query('BEGIN');
    try {
      await sql.query(MIGRATIONS[version]!);
      await sql.query(`INSERT INTO ${VERSION_TABLE} (version) VALUES ($1)`, [version + 1]);
      await sql.query('COMMIT');
    } catch (error) {
      await sql.query('ROLLBACK').catch(() => undefined);
      throw error;
    }
  }
  return before;
}
