// Who may call what on the API listener. A request's principal carries explicit permissions; there is no
// hierarchy (admin does not imply audit.read: reading the audit trail is a separate duty). Each route
// declares the permission it needs in its config (http/route-config.ts); one that declares none needs
// `admin` (fail closed), so a new route is never open by accident.
import { PERMISSIONS, type Permission } from '../../../store/ports/api-keys.ts';

export { PERMISSIONS, type Permission };

export interface Principal {
  /** Managed key id, or `static-admin` / `anonymous` for the two built-in principals. */
  keyId: string;
  /** Who the key acts as: quotas and audit entries are per entity URI. */
  entityUri: string;
  permissions: readonly Permission[];
  /** The key is bound to this client certificate (base64url SHA-256 of its DER, RFC 8705 `x5t#S256`). */
  certSha256?: string;
}

/** TESSERA_API_KEY: the bootstrap path that predates managed keys; it may do everything. */
export const STATIC_ADMIN: Principal = Object.freeze({
  keyId: 'static-admin',
  entityUri: 'static-admin',
  permissions: PERMISSIONS,
});

/** TESSERA_AUTH_REQUIRED=false (loopback only): every caller is this principal, with every permission. */
export const ANONYMOUS: Principal = Object.freeze({
  keyId: 'anonymous',
  entityUri: 'anonymous',
  permissions: PERMISSIONS,
});

export function forbiddenDetail(permission: Permission): string {
  return `${permission} capability required`;
}
