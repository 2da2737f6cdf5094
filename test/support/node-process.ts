// Real node processes for federation tests: `tessera serve` as a child with its own data dir, TLS material
// from a test CA, ports chosen by the OS, and an API client. Nodes are peered through the real admin API.
import { type KeyObject, randomBytes } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { mintPeerToken } from '../../src/node/features/federation/peer-token.ts';
import { loadOrCreateNodeKey } from '../../src/node/features/identity/node-key.ts';
import type { MaterialPaths } from '../../src/tls/material.ts';
import { clientTlsOptions } from '../../src/tls/policy.ts';
import { type CliProcess, startCli } from './child.ts';
import { type TestCa, testUri, writeMaterial } from './pki.ts';

export interface NodeProcess {
  name: string;
  entityUri: string;
  apiUrl: string;
  federationUrl: string;
  /** The advertised gRPC federation endpoint (`host:port`) when the node runs that listener. */
  grpcEndpoint: string | undefined;
  apiKey: string;
  dataDir: string;
  tls: MaterialPaths;
  proc: CliProcess;
  api<T = unknown>(
    method: string,
    path: string,
    body?: unknown,
    apiKey?: string,
  ): Promise<{ status: number; body: T }>;
  stop(): Promise<void>;
  kill9(): Promise<void>;
}

export interface NodeSpec {
  name: string;
  /** Issues the node's certificate; not needed with `reuse` (material made elsewhere, e.g. by openssl). */
  ca?: TestCa;
  /** Parent directory; the node gets <root>/<name>. */
  root: string;
  /** Entity URI to declare; default the certificate's spiffe://test.example/node/<name>. */
  entityUri?: string;
  /** URI SAN of the certificate; default testUri(name). */
  certUri?: string;
  env?: Record<string, string>;
  /** Federation without TLS (the dev gate of rule 7), for comparisons in the benchmark. */
  insecure?: boolean;
  /** Reuse the data dir and TLS files of an earlier run (restart). */
  reuse?: { apiKey: string; tls: MaterialPaths };
  /** Give the TLS paths under the Stigmem names (STIGMEM_TLS_*), as a Stigmem operator's environment does. */
  stigmemTlsEnv?: boolean;
  /** How long to wait for node_ready (default 60 s): a node seeded with a million unsigned facts signs them first. */
  readyTimeoutMs?: number;
  /** A built CLI entry to run instead of the source through tsx (see CliOptions.main). */
  main?: string;
}

export async function startNodeProcess(spec: NodeSpec): Promise<NodeProcess> {
  const dataDir = join(spec.root, spec.name);
  await mkdir(join(dataDir, 'tls'), { recursive: true });
  const certUri = spec.certUri ?? testUri(spec.name);
  const entityUri = spec.entityUri ?? certUri;
  const issue = async (ca: TestCa | undefined) => {
    if (!ca) throw new Error(`node ${spec.name}: give a CA or reuse.tls`);
    return writeMaterial(
      join(dataDir, 'tls'),
      'node',
      await ca.issue(spec.name, { uris: [certUri] }),
      ca.certPem,
    );
  };
  const tls = spec.reuse?.tls ?? (await issue(spec.ca));
  const apiKey = spec.reuse?.apiKey ?? randomBytes(24).toString('base64url');
  const proc = startCli(['serve'], {
    ...(spec.main ? { main: spec.main } : {}),
    env: {
      TESSERA_DATA_DIR: dataDir,
      TESSERA_ENTITY_URI: entityUri,
      TESSERA_FEDERATION_PORT: '0',
      TESSERA_API_PORT: '0',
      ...(spec.insecure
        ? { TESSERA_FEDERATION_INSECURE: '1' }
        : {
            [spec.stigmemTlsEnv ? 'STIGMEM_TLS_CERT_PATH' : 'TESSERA_TLS_CERT_PATH']: tls.certPath,
            [spec.stigmemTlsEnv ? 'STIGMEM_TLS_KEY_PATH' : 'TESSERA_TLS_KEY_PATH']: tls.keyPath,
            [spec.stigmemTlsEnv ? 'STIGMEM_TLS_CA_BUNDLE' : 'TESSERA_TLS_CA_BUNDLE']: tls.caPath,
          }),
      TESSERA_API_KEY: apiKey,
      TESSERA_LOG_LEVEL: 'info',
      // Tests poll and write far beyond a production hour's quota; quota tests set their own limits.
      TESSERA_RATE_LIMIT_READ_PER_HOUR: '10000000',
      TESSERA_RATE_LIMIT_WRITE_PER_HOUR: '10000000',
      TESSERA_RATE_LIMIT_ADMIN_PER_HOUR: '10000000',
      TESSERA_RATE_LIMIT_BURST: '10000000',
      ...spec.env,
    },
  });
  const ready = await proc.waitForEvent((e) => e.event === 'node_ready', spec.readyTimeoutMs ?? 60_000);
  const apiUrl = ready.api_url as string;
  const node: NodeProcess = {
    name: spec.name,
    entityUri,
    apiUrl,
    federationUrl: ready.federation_url as string,
    grpcEndpoint: ready.grpc_endpoint as string | undefined,
    apiKey,
    dataDir,
    tls,
    proc,
    async api<T>(method: string, path: string, body?: unknown, key = apiKey) {
      const response = await request(new URL(path, apiUrl), {
        method: method as 'GET',
        headers: {
          ...(key ? { authorization: `Bearer ${key}` } : {}),
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
      });
      const text = await response.body.text();
      return { status: response.statusCode, body: (text ? JSON.parse(text) : null) as T };
    },
    stop: () => proc.stop(),
    async kill9() {
      if (proc.child.exitCode === null && proc.child.signalCode === null) {
        proc.child.kill('SIGKILL');
        await proc.exited;
      }
    },
  };
  return node;
}

export interface PeerView {
  id: string;
  entity_uri: string;
  fingerprint: string;
  status: string;
}

/** `from` adds `to` (fetching its manifest over mTLS) and approves it with the fingerprint it was shown. */
export async function addAndApprove(
  from: NodeProcess,
  to: NodeProcess,
  scopes?: string[],
): Promise<PeerView> {
  const added = await from.api<PeerView>('POST', '/v1/admin/peers', { url: to.federationUrl });
  if (added.status !== 201)
    throw new Error(`${from.name} add ${to.name}: ${added.status} ${JSON.stringify(added.body)}`);
  const approved = await from.api<PeerView>('POST', `/v1/admin/peers/${added.body.id}/approve`, {
    fingerprint: added.body.fingerprint,
    ...(scopes ? { allowed_scopes: scopes } : {}),
  });
  if (approved.status !== 200)
    throw new Error(`${from.name} approve ${to.name}: ${approved.status} ${JSON.stringify(approved.body)}`);
  return approved.body;
}

export const fact = (entity: string, scope = 'company', extra: Record<string, unknown> = {}) => ({
  entity,
  relation: 'test:seq',
  value: { type: 'string', v: entity },
  source: 'test',
  scope,
  ...extra,
});

/** A peer token signed by a node key (a node's data dir, or a key in hand), as a node itself would mint it. */
export async function peerToken(
  signer: string | { privateKey: KeyObject; keyId: string },
  issuer: string,
  audience: string,
): Promise<string> {
  const key = typeof signer === 'string' ? await loadOrCreateNodeKey({ dataDir: signer }) : signer;
  return mintPeerToken({ privateKey: key.privateKey, keyId: key.keyId, issuer, audience, now: new Date() });
}

/**
 * A federation GET made by hand over mTLS with some node's TLS material (the server's identity is not checked:
 * the tests judge the answer), with the given peer token or none.
 */
export async function federationGet(
  target: Pick<NodeProcess, 'federationUrl'>,
  tls: MaterialPaths,
  token: string | undefined,
  path = '/v1/federation/facts',
): Promise<{ status: number; body: { error?: string; detail?: string } }> {
  const material = {
    certPem: await readFile(tls.certPath, 'utf8'),
    keyPem: await readFile(tls.keyPath, 'utf8'),
    caPem: await readFile(tls.caPath, 'utf8'),
  };
  const dispatcher = new Agent({
    connect: { ...clientTlsOptions(material), checkServerIdentity: () => undefined } as NonNullable<
      Agent.Options['connect']
    >,
  });
  try {
    const response = await request(new URL(path, target.federationUrl), {
      dispatcher,
      ...(token ? { headers: { authorization: `Bearer ${token}` } } : {}),
    });
    return { status: response.statusCode, body: (await response.body.json()) as never };
  } finally {
    await dispatcher.close();
  }
}
