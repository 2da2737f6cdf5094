// Who may call what on the API listener. A request's principal carries explicit permissions; there is no
// hierarchy (admin does not imply audit.read: reading the audit trail is a separate duty). Routes map to
// a permission by their route pattern (never the raw URL) and method; first matching rule wins. A route
// that no rule names needs `admin` (fail closed), so a new route is never open by accident.
import { PERMISSIONS, type Permission } from '../../store/ports/api-keys.ts';

export { PERMISSIONS, type Permission };

export interface Principal {
  /** Managed key id, or `static-admin` / `anonymous` for the two built-in principals. */
  keyId: string;
  /** Who the key acts as: quotas and audit entries are per entity URI. */
  entityUri: string;
  permissions: readonly Permission[];
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

export interface RouteRule {
  /** Route pattern or prefix: matches the pattern itself and anything below it (`/v1/facts/:id`). */
  path: string;
  /** Methods this rule covers (HEAD counts as GET); all methods when absent. */
  methods?: readonly string[];
  permission: Permission | 'open';
}

export const DEFAULT_ROUTE_RULES: readonly RouteRule[] = [
  { path: '/healthz', permission: 'open' },
  { path: '/readyz', permission: 'open' },
  { path: '/metrics', permission: 'open' },
  { path: '/.well-known', permission: 'open' },
  { path: '/v1/facts', methods: ['GET'], permission: 'read' },
  { path: '/v1/facts', methods: ['POST'], permission: 'write' },
  { path: '/v1/admin/peers', permission: 'admin' },
  { path: '/v1/admin/api-keys', permission: 'admin' },
  { path: '/v1/admin/audit', permission: 'audit.read' },
  { path: '/v1/federation', permission: 'federate' },
];

/** What a request needs: `open`, a permission, or just `authenticated` when no route matched (a 404). */
export type Requirement = Permission | 'open' | 'authenticated';

function covers(rule: RouteRule, method: string, route: string): boolean {
  if (route !== rule.path && !route.startsWith(`${rule.path}/`)) return false;
  return !rule.methods || rule.methods.includes(method === 'HEAD' ? 'GET' : method);
}

export function requirementOf(
  method: string,
  route: string | undefined,
  rules: readonly RouteRule[] = DEFAULT_ROUTE_RULES,
): Requirement {
  if (route === undefined) return 'authenticated';
  for (const rule of rules) if (covers(rule, method, route)) return rule.permission;
  return 'admin';
}

export function forbiddenDetail(permission: Permission): string {
  return `${permission} capability required`;
}
