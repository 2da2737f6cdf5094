// Mapping between the store's records and SQLite rows: JSON for the structured columns, NULL for null.
import type { FactRecord, FactValue, Scope } from '../node/facts/types.ts';
import type { PeerRecord, PeerStatus } from './store.ts';

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
