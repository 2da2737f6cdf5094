// `tessera health` as a container HEALTHCHECK runs it: a child process with the node's own environment,
// asking real nodes on loopback. Ready over a TLS API and over the federation listener's mutual TLS (with
// the node's certificate), over a plaintext loopback API; refused when the server is another node (its
// certificate lacks our entity URI); a 503 from /readyz is reported with the node's reason; a closed port
// and a port-0 setting are named. Exit 0 only when ready.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runCli } from '../support/child.ts';
import { type NodeProcess, startNodeProcess } from '../support/node-process.ts';
import { createTestCa } from '../support/pki.ts';

const port = (url: string) => new URL(url).port;

describe('tessera health', () => {
  let a: NodeProcess;
  let b: NodeProcess;
  let root: string;

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'tessera-health-'));
    const ca = await createTestCa();
    // a: the container posture (wildcard binds, API over TLS); b: the defaults (loopback, plaintext API).
    [a, b] = await Promise.all([
      startNodeProcess({
        name: 'a',
        ca,
        root,
        env: { TESSERA_API_TLS: 'tls', TESSERA_API_HOST: '0.0.0.0', TESSERA_FEDERATION_HOST: '0.0.0.0' },
      }),
      startNodeProcess({ name: 'b', ca, root }),
    ]);
  });
  after(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await rm(root, { recursive: true, force: true });
  });

  /** The environment `tessera serve` ran with, with the ports it reported (it was started on port 0). */
  const envOf = (node: NodeProcess, extra: Record<string, string> = {}) => ({
    TESSERA_DATA_DIR: node.dataDir,
    TESSERA_ENTITY_URI: node.entityUri,
    TESSERA_TLS_CERT_PATH: node.tls.certPath,
    TESSERA_TLS_KEY_PATH: node.tls.keyPath,
    TESSERA_TLS_CA_BUNDLE: node.tls.caPath,
    TESSERA_API_PORT: port(node.apiUrl),
    TESSERA_FEDERATION_PORT: port(node.federationUrl),
    ...(node === a
      ? { TESSERA_API_TLS: 'tls', TESSERA_API_HOST: '0.0.0.0', TESSERA_FEDERATION_HOST: '0.0.0.0' }
      : {}),
    ...extra,
  });

  test('ready: the TLS API and the mutual-TLS federation listener (wildcard binds dialled on loopback), and a plaintext API', async () => {
    const [api, federation, plain] = await Promise.all([
      runCli(['health'], { env: envOf(a) }),
      runCli(['health', '--listener', 'federation', '--json'], { env: envOf(a) }),
      runCli(['health'], { env: envOf(b) }),
    ]);
    assert.equal(api.code, 0, api.stderr);
    assert.equal(api.stdout, `ready: https://127.0.0.1:${port(a.apiUrl)}/readyz\n`);
    assert.equal(federation.code, 0, federation.stderr);
    assert.deepEqual(JSON.parse(federation.stdout), {
      listener: 'federation',
      url: `https://127.0.0.1:${port(a.federationUrl)}/readyz`,
      ready: true,
      status: 'ready',
      detail: 'ready',
      checks: { store: 'ok', tls: 'ok' },
    });
    assert.equal(plain.code, 0, plain.stderr);
    assert.equal(plain.stdout, `ready: http://127.0.0.1:${port(b.apiUrl)}/readyz\n`);
  });

  test("refused: a listener whose certificate is another node's (same CA) is not this node", async () => {
    // a's settings, but b's federation port: the chain verifies, the entity URI does not match.
    const result = await runCli(['health', '--listener', 'federation'], {
      env: envOf(a, { TESSERA_FEDERATION_PORT: port(b.federationUrl) }),
    });
    assert.equal(result.code, 1);
    assert.equal(result.stdout, '');
    assert.match(
      result.stderr,
      new RegExp(
        `^tessera: unreachable: https://127\\.0\\.0\\.1:${port(b.federationUrl)}/readyz: the server's certificate does not carry ${a.entityUri} \\(URI SANs: ${b.entityUri}\\)\n$`,
      ),
    );
  });

  test("not ready: a 503 from /readyz is reported with the node's reason; exit 1", async (t) => {
    // A stand-in for a node whose store is down (the node's own 503 is tested with the store).
    const server = createServer((_req, res) => {
      res.writeHead(503, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ status: 'not_ready', reason: 'store: not writable: gone', checks: {} }));
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    t.after(() => server.close());
    const result = await runCli(['health'], {
      env: envOf(b, { TESSERA_API_PORT: String((server.address() as AddressInfo).port) }),
    });
    assert.equal(result.code, 1);
    assert.equal(result.stderr, 'tessera: not_ready: store: not writable: gone\n');
  });

  test('unreachable and unknowable: a closed port is named; port 0 cannot be asked', async (t) => {
    const closed = createServer();
    closed.listen(0, '127.0.0.1');
    await once(closed, 'listening');
    const closedPort = String((closed.address() as AddressInfo).port);
    await new Promise((resolve) => closed.close(resolve));
    const [refused, zero] = await Promise.all([
      runCli(['health'], { env: envOf(b, { TESSERA_API_PORT: closedPort }) }),
      runCli(['health', '--api-port', '0'], { env: envOf(b) }),
    ]);
    t.diagnostic(refused.stderr);
    assert.equal(refused.code, 1);
    assert.match(
      refused.stderr,
      new RegExp(`^tessera: unreachable: http://127\\.0\\.0\\.1:${closedPort}/readyz: ECONNREFUSED: `),
    );
    assert.equal(zero.code, 1);
    assert.match(zero.stderr, /^tessera: the api listener is set to port 0 \(any free port\)/);
  });
});
