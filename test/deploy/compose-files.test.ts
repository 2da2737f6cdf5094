// The deployment files, checked without a container daemon: the compose file parses as YAML; every variable
// it (and the env file it reads) sets is one of our settings or a Stigmem alias, and together they make a
// configuration `tessera serve` accepts; each bind mount is a file the demo certificate script writes, and
// each node's certificate names that node; ports agree between the listeners, the node URL, the healthcheck,
// the published ports, the smoke script and the seed's curl commands; the healthcheck is the image's own
// (`tessera health`). The image itself: deployment-files.test.ts.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { STIGMEM_ALIASES } from '../../src/node/settings/aliases.ts';
import { loadConfig } from '../../src/node/settings/config.ts';
import { SETTINGS } from '../../src/node/settings/table.ts';
import { inspectCertificates } from '../../src/pki/inspect.ts';
import {
  COMPOSE_FILE,
  type ComposeFile,
  DEMO_NODES,
  GEN_CERTS,
  generateDemoCerts,
  loadCompose,
  REPO_ROOT,
  SMOKE_SCRIPT,
} from '../support/deploy.ts';
import { openssl } from '../support/openssl.ts';
import { tempDir } from '../support/pki.ts';
import { run } from '../support/shell.ts';

const KNOWN_VARIABLES = new Set([
  ...Object.values(SETTINGS).map((setting) => setting.env),
  ...Object.values(STIGMEM_ALIASES),
]);

/** KEY=value lines of an env file, as compose reads them. */
async function envFile(path: string): Promise<Record<string, string>> {
  const lines = (await readFile(path, 'utf8')).split('\n').filter((line) => line && !line.startsWith('#'));
  return Object.fromEntries(
    lines.map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
  );
}

/** `127.0.0.1:8766:8765` → { host: '127.0.0.1', published: 8766, container: 8765 }. */
function portMapping(spec: string) {
  const [host, published, container] = spec.split(':');
  return { host, published: Number(published), container: Number(container) };
}

describe('deploy/compose/docker-compose.mtls.yml', () => {
  let tls: string;
  let compose: ComposeFile;

  before(async () => {
    tls = await mkdtemp(join(tmpdir(), 'tessera-compose-files-'));
    await generateDemoCerts(tls);
    compose = await loadCompose({ TESSERA_COMPOSE_TLS_DIR: tls });
  });
  after(() => rm(tls, { recursive: true, force: true }));

  test('parses as YAML: nodes stigmem-a and stigmem-b, built from deploy/Dockerfile, hardened', async () => {
    assert.deepEqual(Object.keys(compose.services).sort(), ['stigmem-a', 'stigmem-b']);
    for (const [name, service] of Object.entries(compose.services)) {
      assert.equal(service.hostname, name, `${name}: its host name is its service name (the DNS SAN)`);
      assert.deepEqual(service.build, { context: '../..', dockerfile: 'deploy/Dockerfile' });
      assert.ok((await stat(join(COMPOSE_FILE, '..', '../..', 'deploy/Dockerfile'))).isFile());
      assert.equal(service.read_only, true, `${name}: read-only root filesystem`);
      assert.equal(service.init, true, `${name}: an init forwards SIGHUP to the node`);
      assert.deepEqual(service.tmpfs, ['/tmp']);
      assert.deepEqual(service.cap_drop, ['ALL']);
      assert.deepEqual(service.security_opt, ['no-new-privileges:true']);
    }
  });

  test('every variable is a Tessera setting or a Stigmem alias; together they configure a valid mTLS node', async () => {
    for (const [name, service] of Object.entries(compose.services)) {
      const files = service.env_file ?? [];
      assert.equal(files.length, 1, `${name}: one env file (its admin key)`);
      const fromFile = await envFile(files[0] as string);
      assert.deepEqual(Object.keys(fromFile), ['STIGMEM_ADMIN_KEY']);
      const env = { ...service.environment, ...fromFile };
      for (const variable of Object.keys(env))
        assert.ok(KNOWN_VARIABLES.has(variable), `${name}: ${variable} is not a setting or an alias`);
      assert.equal(env.STIGMEM_FEDERATION_INSECURE, undefined, 'the insecure flag stays unset');
      assert.equal(env.TESSERA_FEDERATION_INSECURE, undefined);
      // What `tessera serve` makes of it (the same validation as at start, before any file is opened).
      const config = loadConfig({}, env);
      const node = DEMO_NODES.find((n) => n.service === name)!;
      assert.equal(config.entityUri, node.entityUri);
      assert.equal(config.nodeUrl, `https://${name}:8765`);
      assert.deepEqual(config.federation, {
        mode: 'mtls',
        certPath: '/etc/tessera/tls/node.crt',
        keyPath: '/etc/tessera/tls/node.key',
        caPath: '/etc/tessera/tls/ca.crt',
      });
      assert.equal(config.apiTls, 'mtls', 'the published API is mutual TLS too');
      assert.equal(config.apiKey, fromFile.STIGMEM_ADMIN_KEY);
    }
  });

  test("mounts: the demo script's files, read-only; each node its own certificate and key, never the CA key", async () => {
    const tlsFiles = new Set<string>();
    for (const [name, service] of Object.entries(compose.services)) {
      const node = DEMO_NODES.find((n) => n.service === name)!;
      const binds = service.volumes.filter((v) => v.type === 'bind');
      assert.deepEqual(
        binds.map((v) => [v.source, v.target, v.read_only]),
        [
          [join(tls, `${node.files}.crt`), '/etc/tessera/tls/node.crt', true],
          [join(tls, `${node.files}.key`), '/etc/tessera/tls/node.key', true],
          [join(tls, 'ca.crt'), '/etc/tessera/tls/ca.crt', true],
        ],
      );
      for (const bind of binds) {
        assert.ok((await stat(bind.source)).isFile(), `${bind.source} is written by the script`);
        tlsFiles.add(bind.source);
      }
      // The certificate it mounts is this node's: its entity URI and its service name, from the CA.
      const [leaf] = inspectCertificates(await readFile(join(tls, `${node.files}.crt`)));
      assert.deepEqual(leaf?.sans.uris, [service.environment.TESSERA_ENTITY_URI]);
      assert.deepEqual(leaf?.sans.dnsNames, [name]);
      assert.equal(leaf?.extendedKeyUsages, null, "the seed's recipe: no EKU extension");
      const verified = await openssl([
        'verify',
        '-CAfile',
        join(tls, 'ca.crt'),
        join(tls, `${node.files}.crt`),
      ]);
      assert.equal(verified.code, 0, verified.stderr);
      const data = service.volumes.find((v) => v.type === 'volume');
      assert.equal(data?.target, service.environment.TESSERA_DATA_DIR, 'the data dir is a volume');
      assert.ok(data && compose.volumes && data.source in compose.volumes);
    }
    assert.ok(![...tlsFiles].some((f) => f.endsWith('ca.key')), 'the CA key is never mounted');
    assert.equal((await stat(join(tls, 'ca.key'))).mode & 0o777, 0o600);
    for (const node of DEMO_NODES)
      assert.equal(
        (await stat(join(tls, `${node.files}.env`))).mode & 0o777,
        0o600,
        'admin keys stay private',
      );
  });

  test('without TESSERA_COMPOSE_TLS_DIR the mounts are deploy/compose/tls, where the script writes by default', async () => {
    const defaults = await loadCompose({});
    const sources = Object.values(defaults.services).flatMap((s) => [
      ...s.volumes.filter((v) => v.type === 'bind').map((v) => v.source),
      ...(s.env_file ?? []),
    ]);
    assert.ok(sources.length > 0);
    for (const source of sources) assert.match(source, /^\.\/tls\/(ca|node-[ab])\.(crt|key|env)$/);
    assert.match(
      await readFile(GEN_CERTS, 'utf8'),
      /out=\$\{out:-"\$\(cd "\$\(dirname "\$\{BASH_SOURCE\[0\]\}"\)" && pwd\)\/tls"\}/,
    );
    assert.match(await readFile(join(REPO_ROOT, '.gitignore'), 'utf8'), /^deploy\/compose\/tls\/$/m);
  });

  test("ports: listeners, node URL, published ports, the smoke script and the seed's curl agree; the healthcheck is tessera health", async () => {
    const smoke = await readFile(SMOKE_SCRIPT, 'utf8');
    const smokeFed = /FED_PORT=\(\[a\]=(\d+) \[b\]=(\d+)\)/.exec(smoke);
    const smokeApi = /API_PORT=\(\[a\]=(\d+) \[b\]=(\d+)\)/.exec(smoke);
    assert.ok(smokeFed && smokeApi, 'the smoke script names the compose ports');
    // The seed: curl … --resolve stigmem-a:8765:127.0.0.1 …, and stigmem-b:8766.
    const expected: Record<string, { fed: number; api: number }> = {
      'stigmem-a': { fed: 8765, api: Number(smokeApi[1]) },
      'stigmem-b': { fed: 8766, api: Number(smokeApi[2]) },
    };
    assert.deepEqual([Number(smokeFed[1]), Number(smokeFed[2])], [8765, 8766]);
    for (const [name, service] of Object.entries(compose.services)) {
      const env = service.environment;
      const fedPort = Number(env.TESSERA_FEDERATION_PORT);
      const apiPort = Number(env.TESSERA_API_PORT);
      assert.equal(env.TESSERA_NODE_URL, `https://${name}:${fedPort}`);
      assert.deepEqual(
        service.ports.map(portMapping),
        [
          { host: '127.0.0.1', published: expected[name]?.fed, container: fedPort },
          { host: '127.0.0.1', published: expected[name]?.api, container: apiPort },
        ],
        `${name}: published on the host's loopback only`,
      );
      // The image's own check, on the federation listener: it reads the settings above (port, TLS paths).
      assert.deepEqual(service.healthcheck.test, [
        'CMD',
        'node',
        '/app/bin/tessera.js',
        'health',
        '--listener',
        'federation',
      ]);
    }
  });

  test('the PID file and the data dir are where a read-only container can write', () => {
    for (const service of Object.values(compose.services)) {
      const pidFile = service.environment.TESSERA_PID_FILE ?? '';
      assert.ok(
        service.tmpfs?.some((dir) => pidFile.startsWith(`${dir}/`)),
        `${pidFile} is on a tmpfs`,
      );
    }
  });
});

describe('the deployment scripts', () => {
  test('both are valid bash', async () => {
    for (const script of [GEN_CERTS, SMOKE_SCRIPT]) {
      const checked = await run('/bin/bash', ['-n', script]);
      assert.equal(checked.code, 0, `${script}: ${checked.stderr}`);
    }
  });

  test('generate-mtls-demo-certs.sh refuses to replace a CA without --force, and replaces all of it with it', async (t) => {
    const dir = await tempDir(t, 'tessera-gen-certs-');
    await generateDemoCerts(dir);
    const before = await readFile(join(dir, 'ca.crt'), 'utf8');
    const again = await run('/bin/bash', [GEN_CERTS, dir]);
    assert.equal(again.code, 1);
    assert.equal(
      again.stderr,
      `generate-mtls-demo-certs: ${dir} already holds a CA; pass --force to replace all of it\n`,
    );
    assert.equal(await readFile(join(dir, 'ca.crt'), 'utf8'), before, 'left alone');
    const forced = await run('/bin/bash', [GEN_CERTS, '--force', dir]);
    assert.equal(forced.code, 0, forced.stderr);
    const ca = new X509Certificate(await readFile(join(dir, 'ca.crt')));
    assert.notEqual(ca.fingerprint256, new X509Certificate(before).fingerprint256);
    assert.ok(new X509Certificate(await readFile(join(dir, 'node-b.crt'))).verify(ca.publicKey));
  });
});
