// Peers and the pull cursor held for each, on PostgreSQL.
import { StoreInputError } from '../errors.ts';
import type { PeerRecord, PeerStore } from '../ports/peers.ts';
import { type PeerRow, peerFromRow, peerToRow } from '../sqlite/peers.ts';
import {
  FOREIGN_KEY_VIOLATION,
  pgCode,
  placeholders,
  prepared,
  type Run,
  type Sql,
  UNIQUE_VIOLATION,
  unmatchable,
} from './sql.ts';

const PEER_FIELDS = [
  'id',
  'entity_uri',
  'federation_url',
  'public_key',
  'key_id',
  'fingerprint',
  'tls_spki_sha256',
  'status',
  'allowed_scopes',
  'created_at',
  'updated_at',
  'allowed_cidrs',
] as const satisfies readonly (keyof PeerRow)[];
const PEER_COLUMNS = PEER_FIELDS.join(', ');

const values = (row: PeerRow): (string | null)[] => PEER_FIELDS.map((field) => row[field]);

const SET_CURSOR = prepared(
  'tessera_pull_cursor_set',
  'INSERT INTO pull_cursors (peer_id, cursor) VALUES ($1, $2) ON CONFLICT (peer_id) DO UPDATE SET cursor = excluded.cursor',
);

/** Peers and their pull cursors on one Sql (the pool or a transaction's client). */
export class PgPeers {
  constructor(
    private readonly db: Sql,
    private readonly now: () => Date,
  ) {}

  async addPeer(peer: PeerRecord): Promise<void> {
    try {
      await this.db.guarded(() =>
        this.db.query(
          `INSERT INTO peers (${PEER_COLUMNS}) VALUES (${placeholders(PEER_FIELDS.length)})`,
          values(peerToRow(peer)),
        ),
      );
    } catch (error) {
      if (pgCode(error) === UNIQUE_VIOLATION)
        throw new StoreInputError(
          'peer_exists',
          `a peer with id ${peer.id} or entity URI ${peer.entityUri} exists`,
        );
      throw error;
    }
  }

  async getPeer(id: string): Promise<PeerRecord | null> {
    if (unmatchable(id)) return null;
    const { rows } = await this.db.query<PeerRow>(`SELECT ${PEER_COLUMNS} FROM peers WHERE id = $1`, [id]);
    return rows[0] ? peerFromRow(rows[0]) : null;
  }

  async getPeerByEntityUri(entityUri: string): Promise<PeerRecord | null> {
    if (unmatchable(entityUri)) return null;
    const { rows } = await this.db.query<PeerRow>(`SELECT ${PEER_COLUMNS} FROM peers WHERE entity_uri = $1`, [
      entityUri,
    ]);
    return rows[0] ? peerFromRow(rows[0]) : null;
  }

  async listPeers(): Promise<PeerRecord[]> {
    const { rows } = await this.db.query<PeerRow>(
      `SELECT ${PEER_COLUMNS} FROM peers ORDER BY created_at, id`,
    );
    return rows.map(peerFromRow);
  }

  /** A read-modify-write: the store runs it under its write lock (access `serial`), so updates never interleave. */
  async updatePeer(
    id: string,
    changes: Partial<Omit<PeerRecord, 'id' | 'createdAt'>>,
  ): Promise<PeerRecord | null> {
    const current = await this.getPeer(id);
    if (!current) return null;
    const defined = Object.fromEntries(Object.entries(changes).filter(([, value]) => value !== undefined));
    const updated: PeerRecord = {
      ...current,
      ...defined,
      id: current.id,
      createdAt: current.createdAt,
      updatedAt: changes.updatedAt ?? this.now().toISOString(),
    };
    // $1 is the id; the other columns follow in PEER_FIELDS order.
    const assignments = PEER_FIELDS.slice(1).map((column, i) => `${column} = $${i + 2}`);
    try {
      await this.db.guarded(() =>
        this.db.query(`UPDATE peers SET ${assignments.join(', ')} WHERE id = $1`, values(peerToRow(updated))),
      );
    } catch (error) {
      if (pgCode(error) === UNIQUE_VIOLATION)
        throw new StoreInputError('peer_exists', `another peer has entity URI ${updated.entityUri}`);
      throw error;
    }
    // As it reads back (an emptied allowlist is absent).
    return peerFromRow(peerToRow(updated));
  }

  async getPullCursor(peerId: string): Promise<string | null> {
    if (unmatchable(peerId)) return null;
    const { rows } = await this.db.query<{ cursor: string }>(
      'SELECT cursor FROM pull_cursors WHERE peer_id = $1',
      [peerId],
    );
    return rows[0]?.cursor ?? null;
  }

  async setPullCursor(peerId: string, cursor: string): Promise<void> {
    try {
      await this.db.guarded(() => this.db.query(SET_CURSOR, [peerId, cursor]));
    } catch (error) {
      if (pgCode(error) === FOREIGN_KEY_VIOLATION)
        throw new StoreInputError('unknown_peer', `no peer ${peerId} to hold a pull cursor for`);
      throw error;
    }
  }
}

/** The PeerStore port over `run`, with the access each call needs (sql.ts Access). */
export function bindPeerStore(run: Run<PgPeers>): PeerStore {
  return {
    addPeer: (peer) => run('write', (o) => o.addPeer(peer)),
    getPeer: (id) => run('read', (o) => o.getPeer(id)),
    getPeerByEntityUri: (uri) => run('read', (o) => o.getPeerByEntityUri(uri)),
    listPeers: () => run('read', (o) => o.listPeers()),
    updatePeer: (id, changes) => run('serial', (o) => o.updatePeer(id, changes)),
    getPullCursor: (peerId) => run('read', (o) => o.getPullCursor(peerId)),
    setPullCursor: (peerId, cursor) => run('write', (o) => o.setPullCursor(peerId, cursor)),
  };
}
