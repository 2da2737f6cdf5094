// Peers and the pull cursor held for each, on one SQLite connection.
import type Database from 'better-sqlite3';
import { StoreInputError } from '../errors.ts';
import type { Scope } from '../ports/facts.ts';
import type { PeerRecord, PeerStatus, PeerStore } from '../ports/peers.ts';
import { namedParams, type Run, type Stmt, sqliteCode } from './sql.ts';

const PEER_COLUMNS =
  'id, entity_uri, federation_url, public_key, key_id, fingerprint, tls_spki_sha256, status, allowed_scopes, created_at, updated_at, allowed_cidrs';

export interface PeerRow {
  id: string;
  entity_uri: string;
  federation_url: string;
  public_key: string;
  key_id: string;
  fingerprint: string;
  tls_spki_sha256: string;
  status: PeerStatus;
  allowed_scopes: string;
  created_at: string;
  updated_at: string;
  /** JSON array of CIDR networks; NULL: any address. */
  allowed_cidrs: string | null;
}

export function peerToRow(peer: PeerRecord): PeerRow {
  return {
    id: peer.id,
    entity_uri: peer.entityUri,
    federation_url: peer.federationUrl,
    public_key: peer.publicKey,
    key_id: peer.keyId,
    fingerprint: peer.fingerprint,
    tls_spki_sha256: peer.tlsSpkiSha256,
    status: peer.status,
    allowed_scopes: JSON.stringify(peer.allowedScopes),
    created_at: peer.createdAt,
    updated_at: peer.updatedAt,
    allowed_cidrs: peer.allowedCidrs?.length ? JSON.stringify(peer.allowedCidrs) : null,
  };
}

export function peerFromRow(row: PeerRow): PeerRecord {
  return {
    id: row.id,
    entityUri: row.entity_uri,
    federationUrl: row.federation_url,
    publicKey: row.public_key,
    keyId: row.key_id,
    fingerprint: row.fingerprint,
    tlsSpkiSha256: row.tls_spki_sha256,
    status: row.status,
    allowedScopes: JSON.parse(row.allowed_scopes) as Scope[],
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    ...(row.allowed_cidrs ? { allowedCidrs: JSON.parse(row.allowed_cidrs) as string[] } : {}),
  };
}

export class SqlitePeers {
  readonly #insertPeer: Stmt<[PeerRow]>;
  readonly #updatePeer: Stmt<[PeerRow]>;
  readonly #peerById: Stmt<[string], PeerRow>;
  readonly #peerByUri: Stmt<[string], PeerRow>;
  readonly #allPeers: Stmt<[], PeerRow>;
  readonly #getCursor: Stmt<[string], string>;
  readonly #setCursor: Stmt<[string, string]>;

  constructor(
    db: Database.Database,
    private readonly now: () => Date,
  ) {
    this.#insertPeer = db.prepare(
      `INSERT INTO peers (${PEER_COLUMNS}) VALUES (${namedParams(PEER_COLUMNS)})`,
    );
    this.#updatePeer = db.prepare(
      `UPDATE peers SET ${PEER_COLUMNS.split(', ')
        .filter((c) => c !== 'id')
        .map((c) => `${c} = @${c}`)
        .join(', ')} WHERE id = @id`,
    );
    this.#peerById = db.prepare(`SELECT ${PEER_COLUMNS} FROM peers WHERE id = ?`);
    this.#peerByUri = db.prepare(`SELECT ${PEER_COLUMNS} FROM peers WHERE entity_uri = ?`);
    this.#allPeers = db.prepare(`SELECT ${PEER_COLUMNS} FROM peers ORDER BY created_at, id`);
    this.#getCursor = db
      .prepare<[string], string>('SELECT cursor FROM pull_cursors WHERE peer_id = ?')
      .pluck();
    this.#setCursor = db.prepare(
      'INSERT INTO pull_cursors (peer_id, cursor) VALUES (?, ?) ON CONFLICT (peer_id) DO UPDATE SET cursor = excluded.cursor',
    );
  }

  addPeer(peer: PeerRecord): void {
    try {
      this.#insertPeer.run(peerToRow(peer));
    } catch (error) {
      const code = sqliteCode(error);
      if (code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === 'SQLITE_CONSTRAINT_UNIQUE')
        throw new StoreInputError(
          'peer_exists',
          `a peer with id ${peer.id} or entity URI ${peer.entityUri} exists`,
        );
      throw error;
    }
  }

  getPeer(id: string): PeerRecord | null {
    const row = this.#peerById.get(id);
    return row ? peerFromRow(row) : null;
  }

  getPeerByEntityUri(entityUri: string): PeerRecord | null {
    const row = this.#peerByUri.get(entityUri);
    return row ? peerFromRow(row) : null;
  }

  listPeers(): PeerRecord[] {
    return this.#allPeers.all().map(peerFromRow);
  }

  updatePeer(id: string, changes: Partial<Omit<PeerRecord, 'id' | 'createdAt'>>): PeerRecord | null {
    const current = this.getPeer(id);
    if (!current) return null;
    const defined = Object.fromEntries(Object.entries(changes).filter(([, value]) => value !== undefined));
    const updated: PeerRecord = {
      ...current,
      ...defined,
      id: current.id,
      createdAt: current.createdAt,
      updatedAt: changes.updatedAt ?? this.now().toISOString(),
    };
    try {
      this.#updatePeer.run(peerToRow(updated));
    } catch (error) {
      if (sqliteCode(error) === 'SQLITE_CONSTRAINT_UNIQUE')
        throw new StoreInputError('peer_exists', `another peer has entity URI ${updated.entityUri}`);
      throw error;
    }
    // As it reads back (an emptied allowlist is absent).
    return peerFromRow(peerToRow(updated));
  }

  getPullCursor(peerId: string): string | null {
    return this.#getCursor.get(peerId) ?? null;
  }

  setPullCursor(peerId: string, cursor: string): void {
    try {
      this.#setCursor.run(peerId, cursor);
    } catch (error) {
      if (sqliteCode(error) === 'SQLITE_CONSTRAINT_FOREIGNKEY')
        throw new StoreInputError('unknown_peer', `no peer ${peerId} to hold a pull cursor for`);
      throw error;
    }
  }
}

export function bindPeerStore(run: Run<SqlitePeers>): PeerStore {
  return {
    addPeer: (peer) => run('write', (o) => o.addPeer(peer)),
    getPeer: (id) => run('read', (o) => o.getPeer(id)),
    getPeerByEntityUri: (uri) => run('read', (o) => o.getPeerByEntityUri(uri)),
    listPeers: () => run('read', (o) => o.listPeers()),
    updatePeer: (id, changes) => run('write', (o) => o.updatePeer(id, changes)),
    getPullCursor: (peerId) => run('read', (o) => o.getPullCursor(peerId)),
    setPullCursor: (peerId, cursor) => run('write', (o) => o.setPullCursor(peerId, cursor)),
  };
}
