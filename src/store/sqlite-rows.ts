// Mapping between the store's records and SQLite rows: JSON for the structured columns, NULL for null.
import type { FactRecord, FactValue, Scope } from '../node/facts/types.ts';
import type { ApiKeyRecord, AuditEntry, PeerRecord, PeerStatus, Permission } from './store.ts';

export const FACT_COLUMNS =
  'seq, id, cid, entity, relation, value, source, confidence, scope, timestamp, valid_until, hlc, attested, received_from, origin_node_id';

export interface FactRow {
  seq: number;
  id: string;
  cid: string;
  entity: string;
  relation: string;
  value: string;
  source: string;
  confidence: number;
  scope: Scope;
  timestamp: string;
  valid_until: string | null;
  hlc: string;
  attested: string | null;
  received_from: string | null;
  origin_node_id: string;
}

/** Positional parameters of the fact INSERT, in FACT_COLUMNS order without seq. */
export type FactParams = [
  string,
  string,
  string,
  string,
  string,
  string,
  number,
  string,
  string,
  string | null,
  string,
  string | null,
  string | null,
  string,
];

export function factParams(record: FactRecord): FactParams {
  return [
    record.id,
    record.cid,
    record.entity,
    record.relation,
    JSON.stringify(record.value),
    record.source,
    record.confidence,
    record.scope,
    record.timestamp,
    record.valid_until ?? null,
    record.hlc,
    record.attested === null || record.attested === undefined ? null : JSON.stringify(record.attested),
    record.received_from ?? null,
    record.origin_node_id,
  ];
}

export function factFromRow(row: FactRow): FactRecord {
  return {
    id: row.id,
    entity: row.entity,
    relation: row.relation,
    value: JSON.parse(row.value) as FactValue,
    source: row.source,
    confidence: row.confidence,
    scope: row.scope,
    timestamp: row.timestamp,
    valid_until: row.valid_until,
    hlc: row.hlc,
    cid: row.cid,
    attested: row.attested === null ? null : (JSON.parse(row.attested) as unknown),
    received_from: row.received_from,
    origin_node_id: row.origin_node_id,
  };
}

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
  };
}

export const API_KEY_COLUMNS =
  'id, entity_uri, permissions, secret_hash, description, created_at, expires_at, revoked_at';

export interface ApiKeyRow {
  id: string;
  entity_uri: string;
  permissions: string;
  secret_hash: string;
  description: string | null;
  created_at: string;
  expires_at: string | null;
  revoked_at: string | null;
}

export function apiKeyToRow(key: ApiKeyRecord): ApiKeyRow {
  return {
    id: key.id,
    entity_uri: key.entityUri,
    permissions: JSON.stringify(key.permissions),
    secret_hash: key.secretHash,
    description: key.description ?? null,
    created_at: key.createdAt,
    expires_at: key.expiresAt ?? null,
    revoked_at: key.revokedAt ?? null,
  };
}

export function apiKeyFromRow(row: ApiKeyRow): ApiKeyRecord {
  return {
    id: row.id,
    entityUri: row.entity_uri,
    permissions: JSON.parse(row.permissions) as Permission[],
    secretHash: row.secret_hash,
    description: row.description,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    revokedAt: row.revoked_at,
  };
}

export const AUDIT_COLUMNS = 'seq, ts, event_type, principal, detail, prev_hash, hash';

export interface AuditRow {
  seq: number;
  ts: string;
  event_type: string;
  principal: string | null;
  detail: string;
  prev_hash: string;
  hash: string;
}

export function auditToRow(entry: AuditEntry): AuditRow {
  return {
    seq: entry.seq,
    ts: entry.ts,
    event_type: entry.event_type,
    principal: entry.principal ?? null,
    detail: JSON.stringify(entry.detail),
    prev_hash: entry.prev_hash,
    hash: entry.hash,
  };
}

export function auditFromRow(row: AuditRow): AuditEntry {
  return {
    seq: row.seq,
    ts: row.ts,
    event_type: row.event_type,
    principal: row.principal,
    detail: JSON.parse(row.detail) as Record<string, unknown>,
    prev_hash: row.prev_hash,
    hash: row.hash,
  };
}
