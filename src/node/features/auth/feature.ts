// API keys and authentication: the auth hook that turns a bearer token into a principal and checks the
// access each route declares, and the admin routes that manage keys. Failures and key changes are audited.

import type { NodeContext } from '../../app/context.ts';
import type { Feature } from '../../app/feature.ts';
import { registerApiKeyRoutes } from './api-key-routes.ts';
import { ApiKeys } from './api-keys.ts';
import { installApiAuth } from './auth-hook.ts';
import { createFailureLimiter } from './failure-limiter.ts';
import type { Derive } from './secret-hash.ts';

/** The store channel a revoked API key's id travels on to the other replicas. */
const API_KEY_REVOKED = 'api_key_revoked';

export interface AuthFeatureOptions {
  /** The scrypt call (tests count hashes); default the real one. */
  derive?: Derive;
}

export function authFeature(
  ctx: NodeContext,
  options: AuthFeatureOptions = {},
): Feature & { apiKeys: ApiKeys } {
  const { config, clock, audit, sample } = ctx;
  const { store } = ctx;
  const apiKeys = new ApiKeys({
    store,
    clock,
    // Replicas on one database: a revocation on any of them empties every replica's verification cache.
    ...(store.shared
      ? { onRevoked: (id: string) => void store.notify(API_KEY_REVOKED, id).catch(() => undefined) }
      : {}),
    ...(options.derive ? { derive: options.derive } : {}),
  });
  let unsubscribe = () => {};
  return {
    name: 'auth',
    apiKeys,
    drain: async () => unsubscribe(),
    apiHooks: (app) =>
      installApiAuth(app, {
        apiKeys,
        staticAdminKey: config.apiKey,
        required: config.authRequired,
        countFailure: (labels) => ctx.metrics.apiAuthFailures.inc(labels),
        failureLimiter: createFailureLimiter(config.authFailuresPerHour, () => clock().getTime()),
        onAuthFailed: (reason, keyId) => {
          // Sampled per reason and key id: key ids are public, so even failures that name a real key can be
          // produced at will; every failure is still counted in tessera_api_auth_failures_total.
          if (sample(`auth_failed:${reason}:${keyId ?? ''}`))
            void audit.note('auth_failed', keyId ?? null, { reason });
        },
      }),
    api: async (app) =>
      registerApiKeyRoutes(app, {
        apiKeys,
        clock,
        onKeyCreated: (key, principal) =>
          void audit.note('api_key_created', principal.entityUri, {
            key_id: key.id,
            entity_uri: key.entityUri,
            permissions: key.permissions,
            expires_at: key.expiresAt,
          }),
        onKeyRevoked: (id, principal) =>
          void audit.note('api_key_revoked', principal.entityUri, { key_id: id }),
      }),
    async start() {
      if (store.shared)
        unsubscribe = store.subscribe(
          API_KEY_REVOKED,
          (id) => apiKeys.forget(id),
          () => apiKeys.forgetAll(),
        );
      if (config.authRequired && !config.apiKey && !(await apiKeys.hasActiveAdmin()))
        ctx.logger.warn(
          { event: 'no_admin_key' },
          'no admin API key exists yet: create one with `tessera keys bootstrap --data-dir <dir>` (or set TESSERA_API_KEY)',
        );
    },
  };
}
