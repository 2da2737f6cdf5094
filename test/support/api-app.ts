// An API listener as the node builds it, in-process for fastify inject: a real SQLite store, the real
// facts routes and admin API-key routes behind the real auth hook (and, when given, the quota hook).
// Peer and audit handlers are stand-ins that answer 200: only the hook's decision is under test there.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { type ApiKeyRouteDeps, registerApiKeyRoutes } from '../../src/node/features/auth/api-key-routes.ts';
import { ApiKeys } from '../../src/node/features/auth/api-keys.ts';
import { type ApiAuthOptions, installApiAuth } from '../../src/node/features/auth/auth-hook.ts';
import type { Permission } from '../../src/node/features/auth/permissions.ts';
import type { Derive } from '../../src/node/features/auth/secret-hash.ts';
import { scryptDerive } from '../../src/node/features/auth/secret-hash.ts';
import { HybridClock } from '../../src/node/features/facts/hlc.ts';
import { registerFactRoutes } from '../../src/node/features/facts/routes.ts';
import { FactService } from '../../src/node/features/facts/service.ts';
import { installQuotas } from '../../src/node/features/quotas/quota-hook.ts';
import type { Quotas } from '../../src/node/features/quotas/quotas.ts';
import { installErrorHandler, NODE_HTTP_OPTIONS } from '../../src/node/http/error-handler.ts';
import { openSqliteStore } from '../../src/store/sqlite/open.ts';
import type { Store } from '../../src/store/store.ts';
import type { Clock } from '../../src/tls/clock.ts';

/** A clock tests move by hand. */
export function manualClock(startIso = '2026-05-01T10:00:00.000Z') {
  let now = Date.parse(startIso);
  const clock: Clock = () => new Date(now);
  return {
    clock,
    advance(ms: number) {
      now += ms;
    },
    nowMs: () => now,
  };
}

/** The real scrypt, counted. */
export function countingDerive() {
  let calls = 0;
  const derive: Derive = (secret, salt, params) => {
    calls += 1;
    return scryptDerive(secret, salt, params);
  };
  return { derive, calls: () => calls, reset: () => (calls = 0) };
}

export interface ApiApp {
  app: FastifyInstance;
  store: Store;
  apiKeys: ApiKeys;
  dir: string;
  /** A managed key with these permissions (created straight through ApiKeys). */
  key(permissions: Permission[], entityUri?: string, expiresAt?: string): Promise<string>;
  close(): Promise<void>;
}

export interface ApiAppOptions {
  clock: Clock;
  derive?: Derive;
  auth?: Partial<Omit<ApiAuthOptions, 'apiKeys'>>;
  routes?: Partial<Omit<ApiKeyRouteDeps, 'apiKeys' | 'clock'>>;
  quotas?: Quotas;
  /** More routes, registered before the app is ready. */
  extraRoutes?(app: FastifyInstance): void;
}

const NODE = 'spiffe://example.org/node/a';

export async function startApiApp(options: ApiAppOptions): Promise<ApiApp> {
  const dir = await mkdtemp(join(tmpdir(), 'tessera-api-app-'));
  const store = await openSqliteStore(join(dir, 'tessera.db'));
  const apiKeys = new ApiKeys({
    store,
    clock: options.clock,
    ...(options.derive ? { derive: options.derive } : {}),
  });
  const app = Fastify(NODE_HTTP_OPTIONS);
  installErrorHandler(app);
  installApiAuth(app, { apiKeys, required: true, ...options.auth });
  if (options.quotas) installQuotas(app, options.quotas);
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/metrics', async () => 'metrics');
  app.get('/.well-known/tessera', async () => ({ entity_uri: NODE }));
  const service = new FactService({
    store,
    nodeId: NODE,
    hlc: new HybridClock(() => options.clock().getTime()),
    now: options.clock,
  });
  registerFactRoutes(app, { service, store });
  registerApiKeyRoutes(app, { apiKeys, clock: options.clock, ...options.routes });
  const ok = async () => ({ ok: true });
  app.get('/v1/admin/peers', ok);
  app.post('/v1/admin/peers/:id/approve', ok);
  app.get('/v1/admin/audit', ok);
  app.get('/v1/unmapped', ok);
  options.extraRoutes?.(app);
  await app.ready();
  return {
    app,
    store,
    apiKeys,
    dir,
    async key(permissions, entityUri = 'urn:test:client', expiresAt) {
      const { token } = await apiKeys.create({ entityUri, permissions, expiresAt: expiresAt ?? null });
      return token;
    },
    async close() {
      await app.close();
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

export const FACT = {
  entity: 'acme:site/1',
  relation: 'status',
  value: { type: 'string', v: 'up' },
  source: 'ops',
  scope: 'company',
};
