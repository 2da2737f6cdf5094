// `tessera demo` (npm start): a dev PKI and two federated nodes on loopback over mTLS. They add and approve
// each other through their admin APIs (manifest proven against the TLS certificate, fingerprint
// confirmed), a fact asserted on A arrives on B, an intruder with a valid certificate from the same CA is
// refused, and ready-to-paste curl commands are printed. Runs until Ctrl-C.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { pino } from 'pino';
import { Agent, request } from 'undici';
import { startNode, type TesseraNode } from '../node/app/compose.ts';
import { mintPeerToken } from '../node/features/federation/peer-token.ts';
import { loadOrCreateNodeKey } from '../node/features/identity/node-key.ts';
import { loadConfig } from '../node/settings/config.ts';
import { createDevPki } from '../pki/dev.ts';
import { clientTlsOptions } from '../tls/policy.ts';

export interface DemoOptions {
  dataDir: string;
  /** Stop after the demonstration instead of serving until Ctrl-C (used by tests). */
  once?: boolean;
  print?: (line: string) => void;
}

interface DemoNode {
  name: string;
  node: TesseraNode;
  apiKey: string;
  certPath: string;
  keyPath: string;
}

async function api<T>(
  node: DemoNode,
  method: 'GET' | 'POST',
  path: string,
  body?: unknown,
): Promise<{ status: number; body: T }> {
  const response = await request(new URL(path, node.node.apiUrl), {
    method,
    headers: {
      authorization: `Bearer ${node.apiKey}`,
      ...(body ? { 'content-type': 'application/json' } : {}),
    },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  return { status: response.statusCode, body: (await response.body.json()) as T };
}

export async function runDemo(options: DemoOptions): Promise<void> {
  const print = options.print ?? ((line: string) => process.stdout.write(`${line}\n`));
  // Quiet by default: the demo's own lines tell the story (TESSERA_LOG_LEVEL=info shows the nodes' logs).
  const logger = pino({ level: process.env.TESSERA_LOG_LEVEL ?? 'error' });
  const root = resolve(options.dataDir);
  const pki = await createDevPki({ out: join(root, 'pki'), nodes: ['a', 'b', 'intruder'] });
  const ca = pki.caCertPath;
  print(`dev PKI in ${join(root, 'pki')} (CA ${pki.caReused ? 'reused' : 'created'})`);

  const nodes: DemoNode[] = [];
  for (const spec of pki.nodes.slice(0, 2)) {
    const apiKey = randomBytes(24).toString('base64url');
    // Each run starts the nodes from empty state (the dev PKI is kept and reused).
    await rm(join(root, spec.name), { recursive: true, force: true });
    await rm(join(root, 'intruder'), { recursive: true, force: true });
    const config = loadConfig(
      {
        dataDir: join(root, spec.name),
        entityUri: spec.uri,
        federationPort: '0',
        apiPort: '0',
        tlsCert: spec.certPath,
        tlsKey: spec.keyPath,
        tlsCa: ca,
        pullInterval: '30',
      },
      { TESSERA_API_KEY: apiKey },
      logger,
    );
    nodes.push({ ...spec, node: await startNode(config, { logger }), apiKey });
  }
  const [a, b] = nodes as [DemoNode, DemoNode];
  for (const n of nodes)
    print(`node ${n.name}: ${n.node.entityUri}  federation ${n.node.federationUrl}  API ${n.node.apiUrl}`);

  for (const [from, to] of [
    [a, b],
    [b, a],
  ] as const) {
    const added = await api<{ id: string; fingerprint: string; detail?: string }>(
      from,
      'POST',
      '/v1/admin/peers',
      {
        url: to.node.federationUrl,
      },
    );
    if (added.status !== 201) throw new Error(`${from.name} could not add ${to.name}: ${added.body.detail}`);
    await api(from, 'POST', `/v1/admin/peers/${added.body.id}/approve`, {
      fingerprint: added.body.fingerprint,
    });
    print(
      `${from.name} added and approved ${to.name}: manifest signature valid, TLS URI SAN = manifest entity_uri, key ${added.body.fingerprint.slice(0, 23)}…`,
    );
  }

  const started = Date.now();
  const asserted = await api<{ id: string; cid: string }>(a, 'POST', '/v1/facts', {
    entity: 'demo:sensor/1',
    relation: 'reading',
    value: { type: 'number', v: 21.5 },
    source: 'demo',
    scope: 'company',
  });
  print(`a asserted fact ${asserted.body.id} (${asserted.body.cid})`);
  let arrived: { received_from: string; origin_node_id: string } | undefined;
  while (!arrived && Date.now() - started < 30_000) {
    const found = await api<{ received_from: string; origin_node_id: string }>(
      b,
      'GET',
      `/v1/facts/${asserted.body.cid}`,
    );
    if (found.status === 200) arrived = found.body;
    else await new Promise((done) => setTimeout(done, 20));
  }
  if (!arrived) throw new Error('the fact did not reach b within 30 s');
  print(
    `b received it after ${Date.now() - started} ms over mTLS (origin ${arrived.origin_node_id}, from ${arrived.received_from})`,
  );

  const intruder = pki.nodes[2] as (typeof pki.nodes)[number];
  const intruderAgent = new Agent({
    connect: {
      ...clientTlsOptions({
        certPem: readFileSync(intruder.certPath, 'utf8'),
        keyPem: readFileSync(intruder.keyPath, 'utf8'),
        caPem: readFileSync(ca, 'utf8'),
      }),
      checkServerIdentity: () => undefined,
    } as NonNullable<Agent.Options['connect']>,
  });
  // The intruder even signs a proper peer token with its own node key: it is still not an approved peer.
  const intruderKey = await loadOrCreateNodeKey({ dataDir: join(root, 'intruder') });
  const token = await mintPeerToken({
    privateKey: intruderKey.privateKey,
    keyId: intruderKey.keyId,
    issuer: intruder.uri,
    audience: a.node.entityUri,
    now: new Date(),
  });
  const refused = await request(new URL('/v1/federation/facts', a.node.federationUrl), {
    dispatcher: intruderAgent,
    headers: { authorization: `Bearer ${token}` },
  });
  const refusal = (await refused.body.json()) as { error: string; detail: string };
  print(
    `intruder (valid certificate from the same CA, not a peer) → a: ${refused.statusCode} ${refusal.error}`,
  );
  await intruderAgent.close();

  print('');
  print('Try it:');
  print(`  curl -s -H 'Authorization: Bearer ${b.apiKey}' '${b.node.apiUrl}/v1/facts?entity=demo:sensor/1'`);
  print(
    `  curl -s -H 'Authorization: Bearer ${a.apiKey}' -H 'content-type: application/json' ${a.node.apiUrl}/v1/facts -d '{"entity":"demo:x","relation":"says","value":{"type":"string","v":"hi"},"source":"me","scope":"company"}'`,
  );
  print(
    `  curl -s --cert ${b.certPath} --key ${b.keyPath} --cacert ${ca} ${a.node.federationUrl}/.well-known/tessera-manifest.json`,
  );
  print(
    `  curl -s --cacert ${ca} ${a.node.federationUrl}/.well-known/tessera    # no client certificate: refused in the handshake`,
  );
  print(
    `  npm run -s tessera -- manifest verify ${a.node.federationUrl} --cert ${b.certPath} --key ${b.keyPath} --ca ${ca}`,
  );
  print(
    `  npm run -s tessera -- tls probe ${new URL(a.node.federationUrl).host} --cert ${b.certPath} --key ${b.keyPath} --ca ${ca} --expect-uri ${a.node.entityUri}`,
  );

  const stop = async () => {
    await Promise.all(nodes.map((n) => n.node.close()));
  };
  if (options.once) {
    await stop();
    return;
  }
  print('');
  print('Running; Ctrl-C to stop.');
  await new Promise<void>((done) => {
    process.once('SIGINT', done);
    process.once('SIGTERM', done);
  });
  await stop();
}
