// `tessera peers …` as a real child process against a real node's admin API: add prints what the operator
// must compare and the approve command; approve needs the right fingerprint and never lets `local` leave;
// list and revoke; a wrong API key is refused. Two real nodes over mTLS, so `add` fetches a real manifest.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { describePublicKey } from '../../src/node/features/identity/node-key.ts';
import { runCli } from '../support/child.ts';
import { type NodeProcess, startNodeProcess } from '../support/node-process.ts';
import { createTestCa } from '../support/pki.ts';

interface PeerJson {
  id: string;
  entity_uri: string;
  federation_url: string;
  fingerprint: string;
  status: string;
  allowed_scopes: string[];
}

describe('tessera peers', () => {
  let root: string;
  let a: NodeProcess;
  let b: NodeProcess;
  /** A node whose API is TESSERA_API_TLS=mtls, for the CLI's --ca/--cert/--key. */
  let c: NodeProcess;
  /** B as A first stored it (from `peers add --json`). */
  let added: PeerJson;

  before(async () => {
    const ca = await createTestCa();
    root = await mkdtemp(join(tmpdir(), 'tessera-peers-cli-'));
    const env = { TESSERA_FEDERATION_PULL_INTERVAL_S: '3600' };
    [a, b, c] = await Promise.all([
      startNodeProcess({ name: 'a', ca, root, env }),
      startNodeProcess({ name: 'b', ca, root, env }),
      startNodeProcess({ name: 'c', ca, root, env: { ...env, TESSERA_API_TLS: 'mtls' } }),
    ]);
  });
  after(async () => {
    await Promise.all([a, b, c].map((n) => n?.stop()));
    await rm(root, { recursive: true, force: true });
  });

  /** `tessera peers <args> --api <A's API>` with A's key in TESSERA_API_KEY (or the one given). */
  const peers = (args: string[], apiKey = a.apiKey) =>
    runCli(['peers', ...args, '--api', a.apiUrl], {
      env: { TESSERA_API_KEY: apiKey },
    });

  const peerOnA = async (id: string) => {
    const list = await a.api<{ peers: PeerJson[] }>('GET', '/v1/admin/peers');
    return list.body.peers.find((p) => p.id === id);
  };

  test('peers add prints the id, the key fingerprint and the approve command to run', async () => {
    const result = await peers(['add', b.federationUrl]);
    assert.equal(result.code, 0, result.stderr);
    const stored = (await a.api<{ peers: PeerJson[] }>('GET', '/v1/admin/peers')).body.peers;
    assert.equal(stored.length, 1);
    added = stored[0] as PeerJson;
    assert.equal(added.entity_uri, b.entityUri);
    assert.equal(added.status, 'pending');
    assert.match(added.fingerprint, /^sha256:[0-9a-f]{64}$/);
    assert.ok(result.stdout.includes(added.id), result.stdout);
    assert.ok(result.stdout.includes(`key ${added.fingerprint}`), result.stdout);
    assert.ok(result.stdout.includes(b.entityUri));
    assert.match(result.stdout, /Compare the key fingerprint with the peer's operator/);
    assert.ok(
      result.stdout.includes(`tessera peers approve ${added.id} --fingerprint ${added.fingerprint}\n`),
      result.stdout,
    );
    // The fingerprint printed is the one B publishes about itself.
    const bInfo = await b.api<{ public_key: string }>('GET', '/.well-known/tessera');
    assert.equal(describePublicKey(bInfo.body.public_key).fingerprint, added.fingerprint);
  });

  test('refusals: wrong fingerprint, scope local, wrong API key — exit 1 with the code, nothing changes', async () => {
    const [wrong, local, unauthorized] = await Promise.all([
      peers(['approve', added.id, '--fingerprint', `sha256:${'0'.repeat(64)}`]),
      // The right fingerprint, so the refusal can only be the scope.
      peers(['approve', added.id, '--fingerprint', added.fingerprint, '--scopes', 'company,local']),
      peers(['list', '--json'], `${a.apiKey}-not-it`),
    ]);
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /^tessera: fingerprint_mismatch: /);
    assert.equal(local.code, 1);
    assert.match(
      local.stderr,
      /^tessera: validation_failed: allowed_scopes: local facts never leave the node\n$/,
    );
    assert.equal(unauthorized.code, 1);
    // With --json, the failure is the API's own error shape on stderr.
    assert.deepEqual(JSON.parse(unauthorized.stderr), {
      error: 'unauthorized',
      detail: 'the API key is not valid',
    });
    assert.ok(!unauthorized.stderr.includes(a.apiKey), 'the key is not printed');
    for (const result of [wrong, local, unauthorized]) assert.equal(result.stdout, '');
    assert.equal((await peerOnA(added.id))?.status, 'pending');
  });

  test('peers approve with the right fingerprint → approved; peers list --json shows it', async () => {
    const approved = await peers([
      'approve',
      added.id,
      '--fingerprint',
      added.fingerprint.toUpperCase().replace('SHA256:', 'sha256:'),
      '--scopes',
      'team,company',
    ]);
    assert.equal(approved.code, 0, approved.stderr);
    assert.match(
      approved.stdout,
      new RegExp(`^${added.id}  approved  ${b.entityUri}  ${b.federationUrl}\\n`),
    );
    assert.match(approved.stdout, /scopes team,company\n$/);
    const list = await peers(['list', '--json']);
    assert.equal(list.code, 0, list.stderr);
    const shown = JSON.parse(list.stdout) as PeerJson[];
    assert.equal(shown.length, 1);
    assert.equal(shown[0]?.id, added.id);
    assert.equal(shown[0]?.status, 'approved');
    assert.equal(shown[0]?.entity_uri, b.entityUri);
    assert.equal(shown[0]?.fingerprint, added.fingerprint);
    assert.deepEqual(shown[0]?.allowed_scopes, ['team', 'company']);
  });

  test('peers revoke → revoked, and the list says so', async () => {
    const revoked = await peers(['revoke', added.id, '--json']);
    assert.equal(revoked.code, 0, revoked.stderr);
    assert.equal((JSON.parse(revoked.stdout) as PeerJson).status, 'revoked');
    assert.equal((await peerOnA(added.id))?.status, 'revoked');
    const list = await peers(['list']);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, new RegExp(`^${added.id}  revoked   ${b.entityUri}`));
    // A revoked peer cannot be approved back by its fingerprint.
    const again = await peers(['approve', added.id, '--fingerprint', added.fingerprint]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /^tessera: peer_revoked: /);
  });

  test('an mtls API: --ca, --cert and --key reach it; without a client certificate the CLI exits 1', async () => {
    const env = { TESSERA_API_KEY: c.apiKey };
    const tlsFlags = ['--ca', c.tls.caPath, '--cert', c.tls.certPath, '--key', c.tls.keyPath];
    const ok = await runCli(['peers', 'list', '--api', c.apiUrl, ...tlsFlags], { env });
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(ok.stdout, '(no peers)\n');
    const refused = await runCli(['peers', 'list', '--api', c.apiUrl, '--ca', c.tls.caPath], { env });
    assert.equal(refused.code, 1);
    assert.ok(refused.stderr.startsWith(`tessera: cannot reach the API at ${c.apiUrl}: `), refused.stderr);
    assert.match(refused.stderr, /an mtls API needs a client certificate: --cert and --key\)\n$/);
    assert.equal(refused.stdout, '');
  });

  test('an API that cannot be reached or does not answer JSON → exit 1 saying so', async (t) => {
    // Something else on the port: a proxy's HTML pages.
    const server = createServer((req, res) => {
      const status = req.url === '/v1/admin/peers' && req.method === 'GET' ? 200 : 502;
      res.writeHead(status, { 'content-type': 'text/html' }).end('<html>proxy says hi</html>');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    t.after(() => {
      if (server.listening) server.close();
    });
    const proxy = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const env = { TESSERA_API_KEY: a.apiKey };
    const html = await runCli(['peers', 'list', '--api', proxy], { env });
    assert.equal(html.code, 1);
    assert.equal(html.stderr, `tessera: ${proxy} answered 200 with a body that is not JSON\n`);
    const bad = await runCli(['peers', 'revoke', 'x', '--api', proxy], { env });
    assert.equal(bad.code, 1);
    assert.equal(bad.stderr, 'tessera: 502: <html>proxy says hi</html>\n');
    await new Promise((resolve) => server.close(resolve));
    const gone = await runCli(['peers', 'list', '--api', proxy], { env });
    assert.equal(gone.code, 1);
    assert.match(gone.stderr, new RegExp(`^tessera: cannot reach the API at ${proxy}: .*ECONNREFUSED`));
  });
});
