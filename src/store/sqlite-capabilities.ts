// Peer keys (rotated-out and issuer keys), issued capabilities and capability revocations on one SQLite
// connection. Revocations carry a local insertion seq: the cursor peers pull them by.
import type Database from 'better-sqlite3';
import { checkLimit, decodeFederationCursor, encodeFederationCursor } from './cursor.ts';
import { StoreInputError } from './errors.ts';
import type {
  CapabilityRecord,
  KeyKind,
  PeerKeyRecord,
  RevocationPage,
  RevocationQuery,
  RevocationRecord,
} from './store.ts';

type Stmt<P extends unknown[] = unknown[], R = unknown> = Database.Statement<P, R>;

interface PeerKeyRow {
  peer_id: string;
  kind: KeyKind;
  key_id: string;
  public_key: string;
  not_after: string | null;
  added_at: string;
}

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

function sqliteCode(error: unknown): string {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' ? code : '';
}

const PEER_KEY_COLUMNS = 'peer_id, kind, key_id, public_key, not_after, added_at';
const CAPABILITY_COLUMNS = 'id, issuer, subject, verb, object, key_id, issued_at, expires_at';
const REVOCATION_COLUMNS = 'seq, capability_id, issuer, expires_at, revoked_at, reason';

const named = (columns: string) =>
  columns
    .split(', ')
    .map((c) => `@${c}`)
    .join(', ');

function peerKeyFromRow(row: PeerKeyRow): PeerKeyRecord {
  return {
    peerId: row.peer_id,
    kind: row.kind,
    keyId: row.key_id,
    publicKey: row.public_key,
    notAfter: row.not_after,
    addedAt: row.added_at,
  };
}

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

export class SqliteCapabilityOps {
  readonly #putPeerKey: Stmt<[PeerKeyRow]>;
  readonly #peerKeys: Stmt<[string], PeerKeyRow>;
  readonly #allPeerKeys: Stmt<[], PeerKeyRow>;
  readonly #prunePeerKeys: Stmt<[string]>;
  readonly #addCapability: Stmt<[CapabilityRow]>;
  readonly #capability: Stmt<[string], CapabilityRow>;
  readonly #addRevocation: Stmt<[Omit<RevocationRow, 'seq'>]>;
  readonly #revocation: Stmt<[string, string], RevocationRow>;
  readonly #maxSeq: Stmt<[], number | null>;
  readonly #page: Stmt<[number, number, number], RevocationRow>;
  readonly #pageByIssuer: Stmt<[number, number, string, number], RevocationRow>;
  readonly #snapshot: <T>(read: () => T) => T;

  constructor(db: Database.Database) {
    this.#putPeerKey = db.prepare(
      `INSERT INTO peer_keys (${PEER_KEY_COLUMNS}) VALUES (${named(PEER_KEY_COLUMNS)})
       ON CONFLICT (peer_id, kind, key_id) DO UPDATE SET not_after = excluded.not_after`,
    );
    const keyOrder = 'ORDER BY added_at, peer_id, kind, key_id';
    this.#peerKeys = db.prepare(`SELECT ${PEER_KEY_COLUMNS} FROM peer_keys WHERE peer_id = ? ${keyOrder}`);
    this.#allPeerKeys = db.prepare(`SELECT ${PEER_KEY_COLUMNS} FROM peer_keys ${keyOrder}`);
    this.#prunePeerKeys = db.prepare('DELETE FROM peer_keys WHERE not_after IS NOT NULL AND not_after < ?');
    this.#addCapability = db.prepare(
      `INSERT INTO capabilities (${CAPABILITY_COLUMNS}) VALUES (${named(CAPABILITY_COLUMNS)})`,
    );
    this.#capability = db.prepare(`SELECT ${CAPABILITY_COLUMNS} FROM capabilities WHERE id = ?`);
    const revocationColumns = REVOCATION_COLUMNS.replace('seq, ', '');
    this.#addRevocation = db.prepare(
      `INSERT INTO capability_revocations (${revocationColumns}) VALUES (${named(revocationColumns)})
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
    const snapshot = db.transaction((read: () => unknown) => read());
    this.#snapshot = <T>(read: () => T): T => snapshot(read) as T;
  }

  putPeerKey(key: PeerKeyRecord): void {
    try {
      this.#putPeerKey.run({
        peer_id: key.peerId,
        kind: key.kind,
        key_id: key.keyId,
        public_key: key.publicKey,
        not_after: key.notAfter,
        added_at: key.addedAt,
      });
    } catch (error) {
      const code = sqliteCode(error);
      if (code === 'SQLITE_CONSTRAINT_FOREIGNKEY')
        throw new StoreInputError('unknown_peer', `no peer ${key.peerId} to hold a key for`);
      if (code.startsWith('SQLITE_CONSTRAINT'))
        throw new StoreInputError('invalid_record', `peer key ${key.keyId}: ${(error as Error).message}`);
      throw error;
    }
  }

  listPeerKeys(peerId?: string): PeerKeyRecord[] {
    const rows = peerId === undefined ? this.#allPeerKeys.all() : this.#peerKeys.all(peerId);
    return rows.map(peerKeyFromRow);
  }

  prunePeerKeys(before: string): number {
    return this.#prunePeerKeys.run(before).changes;
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
