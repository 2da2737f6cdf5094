// `tessera demo` (npm start): two peers on loopback, each an mTLS HTTPS server and an mTLS client of the
// other, built only from the library. Each admits exactly the other's SPIFFE ID and dials the other
// expecting its ID; an intruder with a valid certificate from the same CA is refused. Prints curl
// commands and runs until Ctrl-C.
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { pino } from 'pino';
import { request } from 'undici';
import { createDevPki } from '../pki/dev.ts';
import { exactUri } from '../tls/authorize.ts';
import { CredentialSource } from '../tls/credential-source.ts';
import type { Logger } from '../tls/logger.ts';
import { createMtlsAgent } from '../transport/http-client.ts';
import { createMtlsServer } from '../transport/https-server.ts';

export interface DemoOptions {
  dataDir: string;
  /** Stop after the demonstration instead of serving until Ctrl-C (used by tests). */
  once?: boolean;
  print?: (line: string) => void;
}

interface Peer {
  name: string;
  uri: string;
  certPath: string;
  keyPath: string;
}

export async function runDemo(options: DemoOptions): Promise<void> {
  const print = options.print ?? ((line: string) => process.stdout.write(`${line}\n`));
  const logger = pino({ level: process.env.TESSERA_LOG_LEVEL ?? 'warn' });
  const pkiDir = resolve(options.dataDir, 'pki');
  const pki = await createDevPki({ out: pkiDir, nodes: ['a', 'b', 'intruder'] });
  const [a, b, intruder] = pki.nodes as unknown as [Peer, Peer, Peer];
  print(`dev PKI in ${pkiDir} (CA ${pki.caReused ? 'reused' : 'created'})`);

  const nodes = await Promise.all([
    startPeer(a, b, pki.caCertPath, logger),
    startPeer(b, a, pki.caCertPath, logger),
  ]);
  const [nodeA, nodeB] = nodes;
  nodeA.expected.set(nodeB.origin, b.uri);
  nodeB.expected.set(nodeA.origin, a.uri);
  print(`node a: ${nodeA.origin}  (${a.uri})`);
  print(`node b: ${nodeB.origin}  (${b.uri})`);

  for (const [from, to] of [
    [nodeA, nodeB],
    [nodeB, nodeA],
  ] as const) {
    const response = await request(`${to.origin}/whoami`, { dispatcher: from.agent });
    const body = (await response.body.json()) as { you: string[]; me: string };
    print(
      `${from.peer.name} → ${to.peer.name}: ${response.statusCode}, ${to.peer.name} proved ${body.me} and saw ${body.you.join(', ')}`,
    );
  }

  const intruderCredentials = await openCredentials(intruder, pki.caCertPath, logger);
  const intruderAgent = createMtlsAgent({
    credentials: intruderCredentials,
    expectedIdentity: { [nodeB.origin]: b.uri },
    logger,
  });
  const rejection = new Promise<string>((done) =>
    nodeB.server.peerGate.once('rejected', (r) => done(`${r.reason}: ${r.detail}`)),
  );
  const attempt = await request(`${nodeB.origin}/whoami`, { dispatcher: intruderAgent }).then(
    (r) => `unexpected ${r.statusCode}`,
    (error: Error) => error.message,
  );
  print(
    `intruder → b (valid cert from the same CA, wrong identity): refused; client saw "${attempt}", b recorded ${await rejection}`,
  );
  await intruderAgent.close();
  intruderCredentials.close();

  const ca = pki.caCertPath;
  print('');
  print('Try it (node a calling node b, then an anonymous client being refused):');
  print(`  curl --cert ${a.certPath} --key ${a.keyPath} --cacert ${ca} ${nodeB.origin}/whoami`);
  print(`  curl --cacert ${ca} ${nodeB.origin}/whoami    # no client certificate: the handshake is refused`);
  print(
    `  npx tessera tls probe 127.0.0.1:${nodeB.port} --cert ${a.certPath} --key ${a.keyPath} --ca ${ca} --expect-uri ${b.uri}`,
  );

  const stop = async () => {
    await Promise.all(nodes.map((node) => node.close()));
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

async function openCredentials(peer: Peer, caPath: string, logger: Logger) {
  return CredentialSource.open({
    certPath: peer.certPath,
    keyPath: peer.keyPath,
    caPath,
    entityUri: peer.uri,
    logger,
  });
}

async function startPeer(self: Peer, other: Peer, caPath: string, logger: Logger) {
  // Each peer admits exactly the other one: a certificate from the shared CA alone is not enough.
  const credentials = await openCredentials(self, caPath, logger);
  const server = createMtlsServer({ credentials, authorize: exactUri(other.uri), logger });
  server.get('/whoami', async (req) => ({ me: self.uri, you: req.peer?.uris ?? [] }));
  await server.listen({ host: '127.0.0.1', port: 0 });
  const port = (server.server.address() as AddressInfo).port;
  const origin = `https://127.0.0.1:${port}`;
  // origin → the entity URI that origin must prove; filled in once the other peer is listening.
  const expected = new Map<string, string>();
  const agent = createMtlsAgent({ credentials, expectedIdentity: (o) => expected.get(o), logger });
  return {
    peer: self,
    server,
    port,
    origin,
    agent,
    expected,
    async close() {
      await agent.close();
      await server.close();
      credentials.close();
    },
  };
}

export const DEFAULT_DEMO_DIR = join('tessera-data', 'demo');
