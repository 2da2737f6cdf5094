// Certificates made with the Stigmem seeds' own openssl recipe (no EKU extension: any purpose, RFC 5280
// 4.2.1.12) load, pass the self-handshake, and work for a real mutual-TLS handshake on both sides and for
// `tessera tls probe`; a CA:TRUE leaf or an EKU extension without the role's usage is still refused.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { request } from 'undici';
import { exactUri } from '../../src/tls/authorize.ts';
import { TlsError } from '../../src/tls/errors.ts';
import { loadMaterial, type MaterialPaths } from '../../src/tls/material.ts';
import { createMtlsAgent } from '../../src/transport/http-client.ts';
import { type CliProcess, runCli, startCli } from '../support/child.ts';
import { stigmemRecipe } from '../support/openssl.ts';
import { openStaticCredentials, silentLogger, startTestServer } from '../support/tls-peers.ts';

const A = 'stigmem://your-org.example.com/nodes/primary';
const B = 'stigmem://your-org.example.com/nodes/secondary';

const materialArgs = (paths: MaterialPaths) => [
  '--cert',
  paths.certPath,
  '--key',
  paths.keyPath,
  '--ca',
  paths.caPath,
];

async function refused(paths: MaterialPaths, code: string, options = {}): Promise<TlsError> {
  const error = await loadMaterial(paths, options).then(
    () => assert.fail(`expected ${code}`),
    (e: unknown) => e,
  );
  assert.ok(error instanceof TlsError, String(error));
  assert.equal(error.code, code);
  assert.equal(error.file, paths.certPath);
  return error;
}

describe('the Stigmem openssl recipe', () => {
  let dir: string;
  let pki: Awaited<ReturnType<typeof stigmemRecipe>>;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tessera-stigmem-recipe-'));
    pki = await stigmemRecipe(dir, [
      { name: 'a', uri: A },
      { name: 'b', uri: B },
      { name: 'ca-leaf', uri: A, extfile: `basicConstraints=critical,CA:TRUE\nsubjectAltName=URI:${A}` },
      { name: 'server-only', uri: A, extfile: `extendedKeyUsage=serverAuth\nsubjectAltName=URI:${A}` },
      { name: 'client-only', uri: A, extfile: `extendedKeyUsage=clientAuth\nsubjectAltName=URI:${A}` },
      { name: 'code-signing', uri: A, extfile: `extendedKeyUsage=codeSigning\nsubjectAltName=URI:${A}` },
    ]);
  });
  after(() => rm(dir, { recursive: true, force: true }));

  test('a leaf without an EKU extension loads as the node material (rule 1 unchanged otherwise)', async () => {
    const material = await loadMaterial(pki.node('a'), { entityUri: A });
    assert.equal(material.leaf.extendedKeyUsages, null, 'the recipe makes no EKU extension');
    assert.deepEqual(material.leaf.uris, [A]);
    assert.equal(material.leaf.isCa, false);
    await refused(pki.node('a'), 'TLS_ENTITY_URI_MISSING', { entityUri: B });
  });

  test('a leaf with basicConstraints CA:TRUE → TLS_LEAF_IS_CA', async () => {
    await refused(pki.node('ca-leaf'), 'TLS_LEAF_IS_CA');
  });

  test('an EKU extension must list the usage of every role the material serves → TLS_EKU_MISSING', async () => {
    const serverOnly = await refused(pki.node('server-only'), 'TLS_EKU_MISSING');
    assert.match(serverOnly.message, /without clientAuth$/);
    const clientOnly = await refused(pki.node('client-only'), 'TLS_EKU_MISSING');
    assert.match(clientOnly.message, /without serverAuth$/);
    await loadMaterial(pki.node('server-only'), { roles: ['server'] });
    await loadMaterial(pki.node('client-only'), { roles: ['client'] });
    await refused(pki.node('client-only'), 'TLS_EKU_MISSING', { roles: ['server'] });
    const neither = await refused(pki.node('code-signing'), 'TLS_EKU_MISSING');
    assert.match(neither.message, /without serverAuth and clientAuth$/);
  });

  test('a role-limited leaf passes the self-handshake for its own role only', async () => {
    const server = await openStaticCredentials(pki.node('server-only'), { roles: ['server'] });
    server.close();
    const client = await openStaticCredentials(pki.node('client-only'), { roles: ['client'] });
    client.close();
  });

  test('a real mutual-TLS handshake: each side accepts the other, both with no EKU extension', async () => {
    const server = await startTestServer(pki.node('a'), exactUri(B), { entityUri: A });
    const credentials = await openStaticCredentials(pki.node('b'), { entityUri: B });
    const agent = createMtlsAgent({
      credentials,
      expectedIdentity: { [server.origin]: A },
      logger: silentLogger,
    });
    try {
      const response = await request(`${server.origin}/whoami`, { dispatcher: agent });
      assert.equal(response.statusCode, 200);
      assert.deepEqual(((await response.body.json()) as { uris: string[] }).uris, [B]);
      assert.deepEqual(server.rejections, []);
    } finally {
      await agent.close();
      credentials.close();
      await server.close();
    }
  });

  describe('tessera tls probe against tessera tls serve', () => {
    let serve: CliProcess;
    let target: string;

    before(async () => {
      serve = startCli(['tls', 'serve', ...materialArgs(pki.node('a')), '--allow-uri', B, '--entity-uri', A]);
      const listening = await serve.waitForEvent((e) => e.event === 'listening', 30_000);
      target = `127.0.0.1:${listening.port as number}`;
    });
    after(() => serve?.stop());

    test('AUTHORIZED, exit 0: the server kept us and its identity is the expected URI', async () => {
      const result = await runCli([
        'tls',
        'probe',
        target,
        ...materialArgs(pki.node('b')),
        '--expect-uri',
        A,
      ]);
      assert.equal(result.code, 0, result.stdout + result.stderr);
      assert.match(result.stdout, /^chain:\s+verified against the CA bundle$/m);
      assert.match(result.stdout, new RegExp(`^server URIs:\\s+${A}$`, 'm'));
      assert.match(result.stdout, /^server kept us: yes$/m);
      assert.match(result.stdout, /^AUTHORIZED$/m);
    });

    test('tessera tls check accepts the recipe material', async () => {
      const result = await runCli(['tls', 'check', ...materialArgs(pki.node('b')), '--entity-uri', B]);
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stdout, /^ok: /);
    });
  });
});
