// A real node over real mTLS, in-process: the production composition (startNode: both listeners on port
// 0, federation with TLS material from a test CA), with its store, puller and metrics registry in reach of
// the test, its log lines captured, and an API client holding its static admin key. Nodes are peered
// through the real admin API, the way an operator does it.
import { randomBytes } from 'node:crypto';
import { copyFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { pino } from 'pino';
import { request } from 'undici';
import { startNode, type TesseraNode } from '../../src/node/app/compose.ts';
import type { Feature } from '../../src/node/app/feature.ts';
import { loadConfig } from '../../src/node/settings/config.ts';
import type { Clock } from '../../src/tls/clock.ts';
import type { MaterialPaths } from '../../src/tls/material.ts';
import type { PeerView } from './node-process.ts';
import { type TestCa, testUri, writeMaterial } from './pki.ts';

export type LogLine = Record<string, unknown> & { event?: string };

export interface TlsNode {
  name: string;
  entityUri: string;
  node: TesseraNode;
  dataDir: string;
  tls: MaterialPaths;
  /** Every log line the node wrote (level info and up), parsed. */
  logs: LogLine[];
  api<T = unknown>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }>;
  close(): Promise<void>;
  /** What a replica of this node reuses: its static admin key and the env it was started with. */
  identity: { apiKey: string; env: Record<string, string> };
}

export async function startTlsNode(spec: {
  name: string;
  ca: TestCa;
  /** Parent directory; the node gets <root>/<name>. */
  root: string;
  env?: Record<string, string>;
  /**
   * Start a replica of this node: the same entity URI, TLS material, admin key, issuer key and env (its
   * node key and database among them: give TESSERA_NODE_PRIVATE_KEY and TESSERA_DATABASE_URL there), with
   * its own ports and data dir (<root>/<name>); `env` is added on top.
   */
  replicaOf?: TlsNode;
  clock?: Clock;
  /** Extra features mounted after the node's own (e.g. a route recorder). */
  features?: Feature[];
}): Promise<TlsNode> {
  const dataDir = join(spec.root, spec.name);
  await mkdir(join(dataDir, 'tls'), { recursive: true });
  const original = spec.replicaOf;
  const entityUri = original?.entityUri ?? testUri(spec.name);
  const tls = original
    ? original.tls
    : await writeMaterial(
        join(dataDir, 'tls'),
        'node',
        await spec.ca.issue(spec.name, { uris: [entityUri] }),
        spec.ca.certPem,
      );
  if (original)
    await copyFile(join(original.dataDir, 'issuer-key.pem'), join(dataDir, 'issuer-key.pem')).catch(
      () => undefined,
    );
  const env = { ...original?.identity.env, ...spec.env };
  const apiKey = original?.identity.apiKey ?? randomBytes(24).toString('base64url');
  const logs: LogLine[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void logs.push(JSON.parse(line)) });
  const config = loadConfig(
    {},
    {
      TESSERA_DATA_DIR: dataDir,
      TESSERA_ENTITY_URI: entityUri,
      TESSERA_FEDERATION_PORT: '0',
      TESSERA_API_PORT: '0',
      TESSERA_TLS_CERT_PATH: tls.certPath,
      TESSERA_TLS_KEY_PATH: tls.keyPath,
      TESSERA_TLS_CA_BUNDLE: tls.caPath,
      TESSERA_API_KEY: apiKey,
      // Tests write and poll far beyond a production hour's quota.
      TESSERA_RATE_LIMIT_READ_PER_HOUR: '10000000',
      TESSERA_RATE_LIMIT_WRITE_PER_HOUR: '10000000',
      TESSERA_RATE_LIMIT_ADMIN_PER_HOUR: '10000000',
      TESSERA_RATE_LIMIT_FEDERATION_PULL_PER_HOUR: '10000000',
      ...env,
    },
    logger,
  );
  const node = await startNode(config, {
    logger,
    ...(spec.clock ? { clock: spec.clock } : {}),
    ...(spec.features ? { features: spec.features } : {}),
  });
  return {
    name: spec.name,
    entityUri,
    node,
    dataDir,
    tls,
    logs,
    async api<T>(method: string, path: string, body?: unknown) {
      const response = await request(new URL(path, node.apiUrl), {
        method: method as 'GET',
        headers: {
          authorization: `Bearer ${apiKey}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const text = await response.body.text();
      return { status: response.statusCode, body: (text ? JSON.parse(text) : null) as T };
    },
    close: () => node.close(),
    identity: { apiKey, env },
  };
}

/** `from` adds the node at `federationUrl` (its manifest proven over mTLS) and approves the fingerprint shown. */
export async function addAndApproveUrl(
  from: TlsNode,
  federationUrl: string,
  scopes?: string[],
): Promise<PeerView> {
  const added = await from.api<PeerView>('POST', '/v1/admin/peers', { url: federationUrl });
  if (added.status !== 201)
    throw new Error(`${from.name} add ${federationUrl}: ${added.status} ${JSON.stringify(added.body)}`);
  const approved = await from.api<PeerView>('POST', `/v1/admin/peers/${added.body.id}/approve`, {
    fingerprint: added.body.fingerprint,
    ...(scopes ? { allowed_scopes: scopes } : {}),
  });
  if (approved.status !== 200)
    throw new Error(
      `${from.name} approve ${federationUrl}: ${approved.status} ${JSON.stringify(approved.body)}`,
    );
  return approved.body;
}
