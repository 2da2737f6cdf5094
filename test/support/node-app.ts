// A node built by the real composition (app/compose.ts), in-process and without open ports, for
// `inject` tests of its API: real SQLite in a temp dir, every feature, hook and route as `tessera serve`
// has them. Settings go through the settings table like the CLI's (env names), so tests configure what
// operators configure. Federation runs in the dev-only insecure mode (no TLS material needed here).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { type Logger, pino } from 'pino';
import { buildNode, type StartNodeOptions, type TesseraNode } from '../../src/node/app/compose.ts';
import type { Feature } from '../../src/node/app/feature.ts';
import { ApiKeys } from '../../src/node/features/auth/api-keys.ts';
import type { Derive } from '../../src/node/features/auth/secret-hash.ts';
import { scryptDerive } from '../../src/node/features/auth/secret-hash.ts';
import { loadConfig } from '../../src/node/settings/config.ts';
import type { Permission } from '../../src/store/ports/api-keys.ts';
import type { AuditEntry } from '../../src/store/ports/audit.ts';
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

export const NODE_URI = 'spiffe://example.org/node/a';

export interface NodeApp {
  node: TesseraNode;
  /** The API listener's app (inject into it). */
  app: FastifyInstance;
  dir: string;
  /** A managed key with these permissions, made straight in the node's store. */
  key(permissions: Permission[], entityUri?: string, expiresAt?: string): Promise<string>;
  /** The audit entries of this type the node has written so far, oldest first (up to 100). */
  audit(eventType: string): Promise<AuditEntry[]>;
  close(): Promise<void>;
}

export interface NodeAppOptions {
  clock: Clock;
  /** More TESSERA_* settings (e.g. TESSERA_API_KEY, TESSERA_RATE_LIMIT_WRITE_PER_HOUR). */
  env?: Record<string, string>;
  derive?: Derive;
  /** Extra features mounted after the node's own (e.g. a route under test). */
  features?: Feature[];
  /** The node's logger (default silent). */
  logger?: Logger;
  /** The wire to peers (default: the HTTPS adapter). */
  peerTransport?: StartNodeOptions['peerTransport'];
}

export async function startNodeApp(options: NodeAppOptions): Promise<NodeApp> {
  const dir = await mkdtemp(join(tmpdir(), 'tessera-node-app-'));
  const logger = options.logger ?? pino({ level: 'silent' });
  const config = loadConfig(
    {},
    {
      TESSERA_DATA_DIR: join(dir, 'data'),
      TESSERA_ENTITY_URI: NODE_URI,
      TESSERA_FEDERATION_INSECURE: 'true',
      TESSERA_FEDERATION_PORT: '0',
      TESSERA_API_PORT: '0',
      ...options.env,
    },
    logger, // the insecure-mode warning is expected here
  );
  const nodeOptions: StartNodeOptions = {
    logger,
    clock: options.clock,
    ...(options.features ? { features: options.features } : {}),
    ...(options.peerTransport ? { peerTransport: options.peerTransport } : {}),
    ...(options.derive ? { auth: { derive: options.derive } } : {}),
  };
  // A node that refuses to start (a bad setting) leaves no temp dir behind.
  const { node } = await buildNode(config, nodeOptions).catch(async (error: unknown) => {
    await rm(dir, { recursive: true, force: true });
    throw error;
  });
  await node.api.ready();
  const apiKeys = new ApiKeys({ store: node.store, clock: options.clock });
  return {
    node,
    app: node.api,
    dir,
    async key(permissions, entityUri = 'urn:test:client', expiresAt) {
      const { token } = await apiKeys.create({ entityUri, permissions, expiresAt: expiresAt ?? null });
      return token;
    },
    async audit(eventType) {
      // The store's writes queue in order: once this probe write is done, every audit entry the node
      // queued before (some are written without awaiting, after the response) is in.
      await node.store.writable();
      return (await node.store.listAudit({ event_type: eventType }, 100)).entries;
    },
    async close() {
      await node.close();
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
