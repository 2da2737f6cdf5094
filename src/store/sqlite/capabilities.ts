// Issued capabilities and capability revocations on one SQLite connection. Revocations carry a local
// insertion seq: the cursor peers pull them by.
import type Database from 'better-sqlite3';
import { checkLimit, decodeFederationCursor, encodeFederationCursor } from '../cursor.ts';
import { StoreInputError } from '../errors.ts';
import type {
  CapabilityRecord,
  CapabilityStore,
  RevocationPage,
  RevocationQuery,
  RevocationRecord,
} from '../ports/capabilities.ts';
import { namedParams, type Run, type Stmt, snapshotOf, sqliteCode } from './sql.ts';

interface CapabilityRow {
  id: string;
  issuer: string;
  subject: string;
  verb: string;
  object: string;
  key_id: string;
  issued_at: string;
  expires_at: string;
}

interface RevocationRow extends RevocationRecord {
  seq: number;
}

const CAPABILITY_COLUMNS = 'id, issuer, subject, verb, object, key_id, issued_at, expires_at';
const REVOCATION_COLUMNS = 'seq, capability_id, issuer, expires_at, revoked_at, reason';

function capabilityFromRow(row: CapabilityRow): CapabilityRecord {
  return {
    id: row.id,
    issuer: row.issuer,
    subject: row.subject,
    verb: row.verb,
    object: row.object,
    keyId: row.key_id,
    issuedAt: row.issued_at,
    expiresAt: row.expires_at,
  };
}

function revocationFromRow(row: RevocationRow): RevocationRecord {
  const { seq: _seq, ...record } = row;
  return record;
}

export class SqliteCapabilities {
  readonly #addCapability: Stmt<[CapabilityRow]>;
  readonly #capability: Stmt<[string], CapabilityRow>;
  readonly #addRevocation: Stmt<[Omit<RevocationRow, 'seq'>]>;
  readonly #revocation: Stmt<[string, string], RevocationRow>;
  readonly #maxSeq: Stmt<[], number | null>;
  readonly #page: Stmt<[number, number, number], RevocationRow>;
  readonly #pageByIssuer: Stmt<[number, number, string, number], RevocationRow>;
  readonly #snapshot: <T>(read: () => T) => T;

  constructor(db: Database.Database) {
    this.#addCapability = db.prepare(
      `INSERT INTO capabilities (${CAPABILITY_COLUMNS}) VALUES (${namedParams(CAPABILITY_COLUMNS)})`,
    );
    this.#capability = db.prepare(`SELECT ${CAPABILITY_COLUMNS} FROM capabilities WHERE id = ?`);
    const revocationColumns = REVOCATION_COLUMNS.replace('seq, ', '');
    this.#addRevocation = db.prepare(
      `INSERT INTO capability_revocations (${revocationColumns}) VALUES (${namedParams(revocationColumns)})
       ON CONFLICT (issuer, capability_id) DO NOTHING`,
    );
    this.#revocation = db.prepare(
      `SELECT ${REVOCATION_COLUMNS} FROM capability_revocations WHERE issuer = ? AND capability_id = ?`,
    );
    this.#maxSeq = db.prepare<[], number | null>('SELECT max(seq) FROM capability_revocations').pluck();
    this.#page = db.prepare(
      `SELECT ${REVOCATION_COLUMNS} FROM capability_revocations WHERE seq > ? AND seq <= ? ORDER BY seq LIMIT ?`,
    );
    this.#pageByIssuer = db.prepare(
      `SELECT ${REVOCATION_COLUMNS} FROM capability_revocations
       WHERE seq > ? AND seq <= ? AND +issuer = ? ORDER BY seq LIMIT ?`,
    );
    this.#snapshot = snapshotOf(db);
  }

  addCapability(capability: CapabilityRecord): void {
    try {
      this.#addCapability.run({
        id: capability.id,
        issuer: capability.issuer,
        subject: capability.subject,
        verb: capability.verb,
        object: capability.object,
        key_id: capability.keyId,
        issued_at: capability.issuedAt,
        expires_at: capability.expiresAt,
      });
    } catch (error) {
      if (sqliteCode(error).startsWith('SQLITE_CONSTRAINT'))
        throw new StoreInputError(
          'invalid_record',
          `capability ${capability.id}: ${(error as Error).message}`,
        );
      throw error;
    }
  }

  getCapability(id: string): CapabilityRecord | null {
    const row = this.#capability.get(id);
    return row ? capabilityFromRow(row) : null;
  }

  addRevocation(revocation: RevocationRecord): boolean {
    try {
      return (
        this.#addRevocation.run({
          capability_id: revocation.capability_id,
          issuer: revocation.issuer,
          expires_at: revocation.expires_at,
          revoked_at: revocation.revoked_at,
          reason: revocation.reason ?? null,
        }).changes === 1
      );
    } catch (error) {
      if (sqliteCode(error).startsWith('SQLITE_CONSTRAINT'))
        throw new StoreInputError(
          'invalid_record',
          `revocation of ${revocation.capability_id}: ${(error as Error).message}`,
        );
      throw error;
    }
  }

  getRevocation(issuer: string, capabilityId: string): RevocationRecord | null {
    const row = this.#revocation.get(issuer, capabilityId);
    return row ? revocationFromRow(row) : null;
  }

  /** Like the fact feed: bounded by the newest seq of the same snapshot, so an issuer filter never rescans. */
  revocationPage(query: RevocationQuery): RevocationPage {
    checkLimit(query.limit);
    const after = decodeFederationCursor(query.after);
    return this.#snapshot(() => {
      const head = Math.max(after, this.#maxSeq.get() ?? 0);
      if (head === after) return { revocations: [], cursor: encodeFederationCursor(head), more: false };
      const rows =
        query.issuer === undefined
          ? this.#page.all(after, head, query.limit + 1)
          : this.#pageByIssuer.all(after, head, query.issuer, query.limit + 1);
      if (rows.length <= query.limit)
        return {
          revocations: rows.map(revocationFromRow),
          cursor: encodeFederationCursor(head),
          more: false,
        };
      return {
        revocations: rows.slice(0, query.limit).map(revocationFromRow),
        cursor: encodeFederationCursor(rows[query.limit - 1]!.seq),
        more: true,
      };
    });
  }
}

export function bindCapabilityStore(run: Run<SqliteCapabilities>): CapabilityStore {
  return {
    addCapability: (capability) => run('write', (o) => o.addCapability(capability)),
    getCapability: (id) => run('read', (o) => o.getCapability(id)),
    addRevocation: (revocation) => run('write', (o) => o.addRevocation(revocation)),
    getRevocation: (issuer, id) => run('read', (o) => o.getRevocation(issuer, id)),
    revocationPage: (query) => run('read', (o) => o.revocationPage(query)),
  };
}
