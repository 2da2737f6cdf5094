// Issued capabilities and capability revocations on PostgreSQL. Revocations carry a local insertion seq
// (an identity column), the cursor peers pull them by; they are inserted under the store's write lock
// (access `serial`), so a higher seq never commits before a lower one.
import { checkLimit, decodeFederationCursor, encodeFederationCursor } from '../cursor.ts';
import { StoreInputError } from '../errors.ts';
import type {
  CapabilityRecord,
  CapabilityStore,
  RevocationPage,
  RevocationQuery,
  RevocationRecord,
} from '../ports/capabilities.ts';
import { rowRefusal } from './refusals.ts';
import { isConstraintViolation, type Run, type Sql, toNumber, unmatchable } from './sql.ts';

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
  seq: string;
}

const CAPABILITY_COLUMNS = 'id, issuer, subject, verb, object, key_id, issued_at, expires_at';
const REVOCATION_COLUMNS = 'seq, capability_id, issuer, expires_at, revoked_at, reason';
const REVOCATION_INSERT_COLUMNS = REVOCATION_COLUMNS.replace('seq, ', '').split(', ');
const REVOCATION_NULLABLE = new Set(['reason']);

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
  return {
    capability_id: row.capability_id,
    issuer: row.issuer,
    expires_at: row.expires_at,
    revoked_at: row.revoked_at,
    reason: row.reason,
  };
}

/** Capabilities and revocations on one Sql (the pool or a transaction's client). */
export class PgCapabilities {
  constructor(private readonly db: Sql) {}

  async addCapability(capability: CapabilityRecord): Promise<void> {
    try {
      await this.db.guarded(() =>
        this.db.query(
          `INSERT INTO capabilities (${CAPABILITY_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
          [
            capability.id,
            capability.issuer,
            capability.subject,
            capability.verb,
            capability.object,
            capability.keyId,
            capability.issuedAt,
            capability.expiresAt,
          ],
        ),
      );
    } catch (error) {
      if (isConstraintViolation(error))
        throw new StoreInputError(
          'invalid_record',
          `capability ${capability.id}: ${(error as Error).message}`,
        );
      throw error;
    }
  }

  async getCapability(id: string): Promise<CapabilityRecord | null> {
    if (unmatchable(id)) return null;
    const { rows } = await this.db.query<CapabilityRow>(
      `SELECT ${CAPABILITY_COLUMNS} FROM capabilities WHERE id = $1`,
      [id],
    );
    return rows[0] ? capabilityFromRow(rows[0]) : null;
  }

  /** Unguarded (a revocation page inserts many in one transaction): what the table refuses is checked first. */
  async addRevocation(revocation: RevocationRecord): Promise<boolean> {
    const values = [
      revocation.capability_id,
      revocation.issuer,
      revocation.expires_at,
      revocation.revoked_at,
      revocation.reason ?? null,
    ];
    const refusal = rowRefusal(REVOCATION_INSERT_COLUMNS, values, REVOCATION_NULLABLE);
    if (refusal !== null)
      throw new StoreInputError('invalid_record', `revocation of ${revocation.capability_id}: ${refusal}`);
    try {
      const result = await this.db.query(
        `INSERT INTO capability_revocations (${REVOCATION_INSERT_COLUMNS.join(', ')})
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (issuer, capability_id) DO NOTHING`,
        values,
      );
      return result.rowCount === 1;
    } catch (error) {
      if (isConstraintViolation(error))
        throw new StoreInputError(
          'invalid_record',
          `revocation of ${revocation.capability_id}: ${(error as Error).message}`,
        );
      throw error;
    }
  }

  async getRevocation(issuer: string, capabilityId: string): Promise<RevocationRecord | null> {
    if (unmatchable(issuer, capabilityId)) return null;
    const { rows } = await this.db.query<RevocationRow>(
      `SELECT ${REVOCATION_COLUMNS} FROM capability_revocations WHERE issuer = $1 AND capability_id = $2`,
      [issuer, capabilityId],
    );
    return rows[0] ? revocationFromRow(rows[0]) : null;
  }

  /** Like the fact feed: bounded by the newest seq of the same statement, so an issuer filter never rescans. */
  async revocationPage(query: RevocationQuery): Promise<RevocationPage> {
    checkLimit(query.limit);
    const after = decodeFederationCursor(query.after);
    const params: unknown[] = [after, query.limit + 1];
    const where = ['seq > $1', 'seq <= head.seq'];
    if (query.issuer !== undefined) where.push(`issuer = $${params.push(query.issuer)}`);
    const { rows } = await this.db.query<RevocationRow & { head: string }>(
      `SELECT head.seq AS head, page.*
       FROM (SELECT greatest($1::bigint, coalesce(max(seq), 0)) AS seq FROM capability_revocations) AS head
       LEFT JOIN LATERAL (
         SELECT ${REVOCATION_COLUMNS} FROM capability_revocations WHERE ${where.join(' AND ')}
         ORDER BY seq LIMIT $2
       ) AS page ON true
       ORDER BY page.seq`,
      params,
    );
    const head = toNumber(rows[0]?.head ?? after);
    const found = rows.filter((row) => row.seq !== null);
    if (found.length <= query.limit)
      return {
        revocations: found.map(revocationFromRow),
        cursor: encodeFederationCursor(head),
        more: false,
      };
    return {
      revocations: found.slice(0, query.limit).map(revocationFromRow),
      cursor: encodeFederationCursor(toNumber(found[query.limit - 1]!.seq)),
      more: true,
    };
  }
}

/** The CapabilityStore port over `run`, with the access each call needs (sql.ts Access). */
export function bindCapabilityStore(run: Run<PgCapabilities>): CapabilityStore {
  return {
    addCapability: (capability) => run('write', (o) => o.addCapability(capability)),
    getCapability: (id) => run('read', (o) => o.getCapability(id)),
    addRevocation: (revocation) => run('serial', (o) => o.addRevocation(revocation)),
    getRevocation: (issuer, id) => run('read', (o) => o.getRevocation(issuer, id)),
    revocationPage: (query) => run('read', (o) => o.revocationPage(query)),
  };
}
