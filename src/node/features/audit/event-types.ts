// The events the node records in its audit log (issue 4 §3). A closed list: the API filters on it and a
// misspelt event type is refused instead of being written or searched for.
export const AUDIT_EVENT_TYPES = [
  'fact_write',
  'quota_breach',
  'auth_failed',
  'api_key_created',
  'api_key_revoked',
  'peer_added',
  'peer_approved',
  'peer_revoked',
  'federation_rejected',
  'federation_peer_degraded',
  'tls_peer_rejected',
  'tls_reload',
  'key_rotation',
  'capability_issued',
  'capability_revoked',
] as const;

export type AuditEventType = (typeof AUDIT_EVENT_TYPES)[number];

const KNOWN: ReadonlySet<string> = new Set(AUDIT_EVENT_TYPES);

export function isAuditEventType(value: string): value is AuditEventType {
  return KNOWN.has(value);
}
