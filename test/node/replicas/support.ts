// Two replicas of one node on one PostgreSQL database (the machine's server, see postgres-fixtures.ts):
// the same entity URI, TLS material, admin key and node key (a shared seed), their own ports and data dirs.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Clock } from '../../../src/tls/clock.ts';
import type { TestDatabase } from '../../store/postgres-fixtures.ts';
import { createTestCa, type TestCa } from '../../support/pki.ts';
import { startTlsNode, type TlsNode } from '../../support/tls-node.ts';

export interface Replicas {
  ca: TestCa;
  root: string;
  a: TlsNode;
  b: TlsNode;
  close(): Promise<void>;
}

/** Replica `a` (started first: it migrates) and replica `b` of node `name` on `db`. */
export async function startReplicas(
  db: TestDatabase,
  options: {
    name?: string;
    env?: Record<string, string>;
    /** Both replicas' clock (clockB wins for b). */
    clock?: Clock;
    clockB?: Clock;
    ca?: TestCa;
    root?: string;
    /** Runs after `a` started, before `b` does (b loads what a stored meanwhile, e.g. approved peers). */
    beforeB?: (a: TlsNode) => Promise<void>;
    /**
     * Where the node's keys come from: one node key seed in both replicas' env (default), or key files in
     * one data dir both replicas use (`<root>/<name>-shared`, as a shared volume): rotated there, both follow.
     */
    keys?: 'seed' | 'shared-dir';
  } = {},
): Promise<Replicas> {
  const ca = options.ca ?? (await createTestCa());
  const root = options.root ?? (await mkdtemp(join(tmpdir(), 'tessera-replicas-')));
  const name = options.name ?? 'r';
  const env = {
    TESSERA_DATABASE_URL: db.url,
    TESSERA_DATABASE_TLS: 'off',
    ...(options.keys === 'shared-dir'
      ? { TESSERA_DATA_DIR: join(root, `${name}-shared`) }
      : { TESSERA_NODE_PRIVATE_KEY: randomBytes(32).toString('base64url') }),
    ...options.env,
  };
  const a = await startTlsNode({ name, ca, root, env, ...(options.clock ? { clock: options.clock } : {}) });
  await options.beforeB?.(a);
  const b = await startTlsNode({
    name: `${name}-2`,
    ca,
    root,
    replicaOf: a,
    ...(options.clockB || options.clock ? { clock: options.clockB ?? options.clock } : {}),
  });
  return {
    ca,
    root,
    a,
    b,
    async close() {
      await Promise.allSettled([a.close(), b.close()]);
      await rm(root, { recursive: true, force: true });
    },
  };
}
