// Replicas of one node as real `tessera serve` processes on a private PostgreSQL over verified mutual TLS:
// the same entity URI, TLS material (its CN is the database login under `hostssl … cert`), admin key,
// node and issuer keys (env seeds) and database; each its own ports and data dir. For fault tests and the
// benchmark, where a replica must be killed with SIGKILL or its CPU time read.
import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import type { MaterialPaths } from '../../src/tls/material.ts';
import { type NodeProcess, startNodeProcess } from './node-process.ts';
import { type TestCa, testUri, writeMaterial } from './pki.ts';
import type { PrivatePostgres } from './private-postgres.ts';

export interface ProcessReplicas {
  entityUri: string;
  apiKey: string;
  tls: MaterialPaths;
  /** The env every replica gets (database URL, key seeds, and the caller's). */
  env: Record<string, string>;
  /** The replicas started so far, by index (a stopped one stays until started again). */
  replicas: NodeProcess[];
  /** Starts replica `index` (again, after a stop or a kill, with the same data dir). */
  start(index: number): Promise<NodeProcess>;
  stop(): Promise<void>;
}

/**
 * The login and schema of node `name` on `db` (the certificate's CN is the user; its tables go to the schema
 * of the same name, first on the default search_path), and the URL the node connects with.
 */
export async function nodeDatabase(db: PrivatePostgres, name: string): Promise<string> {
  await db.createUser(name);
  await db.query(`CREATE SCHEMA ${pg.escapeIdentifier(name)} AUTHORIZATION ${pg.escapeIdentifier(name)}`);
  return `postgres://${name}@${db.host}:${db.port}/postgres`;
}

/** `count` replicas of node `name` (a lowercase SQL identifier) on `db`, started together. */
export async function startProcessReplicas(spec: {
  ca: TestCa;
  root: string;
  db: PrivatePostgres;
  name: string;
  count: number;
  env?: Record<string, string>;
}): Promise<ProcessReplicas> {
  const { ca, root, name } = spec;
  const entityUri = testUri(name);
  const tlsDir = join(root, `${name}-tls`);
  await mkdir(tlsDir, { recursive: true });
  const tls = await writeMaterial(tlsDir, 'node', await ca.issue(name, { uris: [entityUri] }), ca.certPem);
  const apiKey = randomBytes(24).toString('base64url');
  const env = {
    TESSERA_DATABASE_URL: await nodeDatabase(spec.db, name),
    TESSERA_NODE_PRIVATE_KEY: randomBytes(32).toString('base64url'),
    TESSERA_ISSUER_PRIVATE_KEY: randomBytes(32).toString('base64url'),
    ...spec.env,
  };
  const replicas: NodeProcess[] = [];
  const start = async (index: number): Promise<NodeProcess> => {
    const replica = await startNodeProcess({
      name: `${name}-${index + 1}`,
      root,
      entityUri,
      env,
      reuse: { apiKey, tls },
    });
    replicas[index] = replica;
    return replica;
  };
  const self: ProcessReplicas = {
    entityUri,
    apiKey,
    tls,
    env,
    replicas,
    start,
    async stop() {
      await Promise.all(replicas.map((replica) => replica.stop()));
    },
  };
  try {
    await Promise.all(Array.from({ length: spec.count }, (_, index) => start(index)));
  } catch (error) {
    await self.stop();
    throw error;
  }
  return self;
}
