// Peers' rotated-out and issuer keys on one SQLite connection.
import type Database from 'better-sqlite3';
import { StoreInputError } from '../errors.ts';
import type { KeyKind, PeerKeyRecord, PeerKeyStore } from '../ports/peer-keys.ts';
import { namedParams, type Run, type Stmt, sqliteCode } from './sql.ts';

interface PeerKeyRow {
  peer_id: string;
  kind: KeyKind;
  key_id: string;
  public_key: string;
  not_after: string | null;
  added_at: string;
}

const PEER_KEY_COLUMNS = 'peer_id, kind, key_id, public_key, not_after, added_at';

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

export class SqlitePeerKeys {
  readonly #putPeerKey: Stmt<[PeerKeyRow]>;
  readonly #peerKeys: Stmt<[string], PeerKeyRow>;
  readonly #allPeerKeys: Stmt<[], PeerKeyRow>;
  readonly #prunePeerKeys: Stmt<[string]>;

  constructor(db: Database.Database) {
    this.#putPeerKey = db.prepare(
      `INSERT INTO peer_keys (${PEER_KEY_COLUMNS}) VALUES (${namedParams(PEER_KEY_COLUMNS)})
       ON CONFLICT (peer_id, kind, key_id) DO UPDATE SET not_after = excluded.not_after`,
    );
    const keyOrder = 'ORDER BY added_at, peer_id, kind, key_id';
    this.#peerKeys = db.prepare(`SELECT ${PEER_KEY_COLUMNS} FROM peer_keys WHERE peer_id = ? ${keyOrder}`);
    this.#allPeerKeys = db.prepare(`SELECT ${PEER_KEY_COLUMNS} FROM peer_keys ${keyOrder}`);
    this.#prunePeerKeys = db.prepare('DELETE FROM peer_keys WHERE not_after IS NOT NULL AND not_after < ?');
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
}

export function bindPeerKeyStore(run: Run<SqlitePeerKeys>): PeerKeyStore {
  return {
    putPeerKey: (key) => run('write', (o) => o.putPeerKey(key)),
    listPeerKeys: (peerId) => run('read', (o) => o.listPeerKeys(peerId)),
    prunePeerKeys: (before) => run('write', (o) => o.prunePeerKeys(before)),
  };
}
