// Fixtures for gRPC federation tests between real node processes: the settings that turn the gRPC listener
// on (and take polling out of the picture, so what arrives came over the stream), a Prometheus scrape of a
// node's /metrics, and a node's fact table read from its (stopped) database for exact comparison.
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { request } from 'undici';
import type { NodeProcess } from './node-process.ts';

/**
 * gRPC listener on any port; pulls once an hour and no push wakes, so a fact that arrives within the test
 * came over a live stream; a generous connect timeout so a restarting peer is waited for.
 */
export const GRPC_ENV: Record<string, string> = {
  TESSERA_FEDERATION_GRPC_PORT: '0',
  TESSERA_FEDERATION_PULL_INTERVAL_S: '3600',
  TESSERA_FEDERATION_PUSH_ENABLED: 'false',
  TESSERA_FEDERATION_CONNECT_TIMEOUT_MS: '30000',
};

/** The same ports again (a restarted node keeps its advertised URL and gRPC endpoint). */
export function samePorts(node: NodeProcess): Record<string, string> {
  return {
    TESSERA_FEDERATION_PORT: new URL(node.federationUrl).port,
    ...(node.grpcEndpoint
      ? { TESSERA_FEDERATION_GRPC_PORT: node.grpcEndpoint.split(':').pop() as string }
      : {}),
  };
}

/** The sum of a metric's samples whose labels include `labels` (0 when none). */
export async function scrape(
  node: Pick<NodeProcess, 'apiUrl'>,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  const response = await request(new URL('/metrics', node.apiUrl));
  const text = await response.body.text();
  let sum = 0;
  for (const line of text.split('\n')) {
    const match = /^([a-z_:]+)(\{([^}]*)\})? ([^ ]+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const have = Object.fromEntries(
      [...(match[3] ?? '').matchAll(/([a-z_]+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]),
    );
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) sum += Number(match[4]);
  }
  return sum;
}

export interface FactRow {
  id: string;
  cid: string;
  hlc: string;
  origin_node_id: string;
}

/** Every fact of a stopped node (id, cid, HLC, origin), ordered by id. */
export function factRows(dataDir: string): FactRow[] {
  const db = new Database(join(dataDir, 'tessera.db'), { readonly: true });
  try {
    return db.prepare('SELECT id, cid, hlc, origin_node_id FROM facts ORDER BY id').all() as FactRow[];
  } finally {
    db.close();
  }
}
