// Peers' rotated-out and issuer keys on PostgreSQL.
import { StoreInputError } from '../errors.ts';
import type { KeyKind, PeerKeyRecord, PeerKeyStore } from '../ports/peer-keys.ts';
import { FOREIGN_KEY_VIOLATION, isConstraintViolation, pgCode, type Run, type Sql } from './sql.ts';

interface PeerKeyRow {
  peer_id: string;
  kind: KeyKind;
  key_id: string;
  public_key: string;
  not_after: string | null;
  added_at: string;
}

const PEER_KEY_COLUMNS = 'peer_id, kind, key_id, public_key, not_after, added_at';
const KEY_ORDER = 'ORDER BY added_at, peer_id, kind, key_id';

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

/** Peer keys on one Sql (the pool or a transaction's client). */
export class PgPeerKeys {
  constructor(private readonly db: Sql) {}

  async putPeerKey(key: PeerKeyRecord): Promise<void> {
    try {
      await this.db.guarded(() =>
        this.db.query(
          `INSERT INTO peer_keys (${PEER_KEY_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)
           ON CONFLICT (peer_id, kind, key_id) DO UPDATE SET not_after = excluded.not_after`,
          [key.peerId, key.kind, key.keyId, key.publicKey, key.notAfter, key.addedAt],
        ),
      );
    } catch (error) {
      if (pgCode(error) === FOREIGN_KEY_VIOLATION)
        throw new StoreInputError('unknown_peer', `no peer ${key.peerId} to hold a key for`);
      if (isConstraintViolation(error))
        throw new StoreInputError('invalid_record', `peer key ${key.keyId}: ${(error as Error).message}`);
      throw error;
    }
  }

  async listPeerKeys(peerId?: string): Promise<PeerKeyRecord[]> {
    const { rows } =
      peerId === undefined
        ? await this.db.query<PeerKeyRow>(`SELECT ${PEER_KEY_COLUMNS} FROM peer_keys ${KEY_ORDER}`)
        : await this.db.query<PeerKeyRow>(
            `SELECT ${PEER_KEY_COLUMNS} FROM peer_keys WHERE peer_id = $1 ${KEY_ORDER}`,
            [peerId],
          );
    return rows.map(peerKeyFromRow);
  }

  async prunePeerKeys(before: string): Promise<number> {
    const result = await this.db.query(
      'DELETE FROM peer_keys WHERE not_after IS NOT NULL AND not_after < $1',
      [before],
    );
    return result.rowCount ?? 0;
  }
}

/** The PeerKeyStore port over `run`, with the access each call needs (sql.ts Access). */
export function bindPeerKeyStore(run: Run<PgPeerKeys>): PeerKeyStore {
  return {
    putPeerKey: (key) => run('write', (o) => o.putPeerKey(key)),
    listPeerKeys: (peerId) => run('read', (o) => o.listPeerKeys(peerId)),
    prunePeerKeys: (before) => run('write', (o) => o.prunePeerKeys(before)),
  };
}
