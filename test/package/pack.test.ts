// The package as a stranger gets it: `npm pack` (prepack builds dist/), install the tarball into an empty
// project offline, then plain `node` (no tsx) imports every entry point, runs the README's library example
// (a real mutual-TLS handshake) and the `tessera` bin, and `tsc` type-checks a consumer against the
// shipped .d.ts files.
//
// Offline install: a fresh `npm install <tarball>` needs registry metadata that the npm cache does not
// hold after `npm ci` (which fetches tarballs by lock entry only), so the consumer gets a lock file made
// from ours: the tarball plus our non-dev entries (same versions, resolved URLs and integrity), and
// `npm ci --offline` takes every dependency from the cache. `--ignore-scripts` skips better-sqlite3's
// native build (it would download or compile); its binding is loaded only when a database is opened, so
// `tessera/node` still imports, and the other entries are checked not to load better-sqlite3 at all.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const TSC = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
const ENTRIES = ['tessera', 'tessera/tls', 'tessera/transport', 'tessera/pki', 'tessera/node'];

interface LockEntry {
  dev?: boolean;
  link?: boolean;
  [key: string]: unknown;
}

async function sh(cmd: string, args: string[], cwd: string, env: Record<string, string> = {}) {
  try {
    return await run(cmd, args, { cwd, env: { ...process.env, ...env }, maxBuffer: 64 * 1024 * 1024 });
  } catch (error) {
    const e = error as Error & { stdout?: string; stderr?: string };
    throw new Error(`${cmd} ${args.join(' ')} failed: ${e.message}\n${e.stdout ?? ''}\n${e.stderr ?? ''}`);
  }
}

/** The consumer's lock: our tarball, and our production dependency tree exactly as our lock pins it. */
async function consumerLock(tarball: string) {
  const lock = JSON.parse(await readFile(join(ROOT, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, LockEntry>;
  };
  const root = lock.packages['']!;
  const packages: Record<string, unknown> = {
    '': { name: 'consumer', dependencies: { tessera: `file:${tarball}` } },
    'node_modules/tessera': {
      version: root['version'],
      resolved: `file:${tarball}`,
      license: root['license'],
      dependencies: root['dependencies'],
      engines: root['engines'],
      bin: root['bin'],
    },
  };
  for (const [path, entry] of Object.entries(lock.packages)) {
    if (path !== '' && !entry.dev && !entry.link) packages[path] = entry;
  }
  return { name: 'consumer', lockfileVersion: 3, requires: true, packages };
}

/** The fenced block between the README's library-example markers: the example the README shows. */
async function readmeExample(): Promise<string> {
  const readme = await readFile(join(ROOT, 'README.md'), 'utf8');
  const match = /<!-- library-example:start -->\n```js\n([\s\S]*?)```\n<!-- library-example:end -->/.exec(
    readme,
  );
  assert.ok(match, 'README.md has no library-example block');
  return match[1]!;
}

const CONSUMER_TS = `import { CredentialSource, createMtlsServer, exactUri, type PeerIdentity, TlsError } from 'tessera';
import { loadMaterial, type Material } from 'tessera/tls';
import { createMtlsAgent, type MtlsServer } from 'tessera/transport';
import { createDevPki, type DevPkiResult } from 'tessera/pki';
import { loadConfig, type NodeConfig, startNode, type TesseraNode } from 'tessera/node';
import { pino } from 'pino';

export async function serve(credentials: CredentialSource, peer: string): Promise<MtlsServer> {
  const server = createMtlsServer({ credentials, authorize: exactUri(peer) });
  server.get('/whoami', async (req) => {
    const who: PeerIdentity | null = req.peer;
    return { you: who?.uris ?? [] };
  });
  return server;
}

export async function client(pki: DevPkiResult) {
  const node = pki.nodes[0]!;
  const credentials = await CredentialSource.open({ certPath: node.certPath, keyPath: node.keyPath, caPath: pki.caCertPath });
  return createMtlsAgent({ credentials, expectedIdentity: { 'https://127.0.0.1:1': node.uri } });
}

export async function node(): Promise<TesseraNode> {
  const config: NodeConfig = loadConfig({}, { TESSERA_ENTITY_URI: 'spiffe://example.org/node/a' });
  const started = await startNode(config, { logger: pino() });
  const url: string = started.apiUrl;
  // @ts-expect-error the API URL is a string, not a number: the shipped types are real, not any
  const port: number = started.apiUrl;
  void url;
  void port;
  return started;
}

export const pkiOut: Promise<DevPkiResult> = createDevPki({ out: '/tmp/x', nodes: ['a'] });
export const material: (paths: { certPath: string; keyPath: string; caPath: string }) => Promise<Material> =
  loadMaterial;
export const code: string = new TlsError('TLS_KEY_MISMATCH', 'x').code;
// @ts-expect-error createMtlsServer needs an authorizer
createMtlsServer({ credentials: null as unknown as CredentialSource });
`;

describe('the packed package', { timeout: 300_000 }, () => {
  let dir: string;
  let project: string;
  let files: string[];

  before(
    async () => {
      dir = await mkdtemp(join(tmpdir(), 'tessera-pack-'));
      await sh('npm', ['pack', '--pack-destination', dir], ROOT);
      const tarballs = (await readdir(dir)).filter((name) => name.endsWith('.tgz'));
      assert.deepEqual(tarballs, ['tessera-0.1.0.tgz']);
      const tarball = join(dir, tarballs[0]!);
      files = (await sh('tar', ['-tzf', tarball], dir)).stdout.trim().split('\n').sort();

      project = join(dir, 'consumer');
      await mkdir(project);
      const manifest = {
        name: 'consumer',
        private: true,
        type: 'module',
        dependencies: { tessera: `file:${tarball}` },
      };
      await writeFile(join(project, 'package.json'), JSON.stringify(manifest, null, 2));
      await writeFile(
        join(project, 'package-lock.json'),
        JSON.stringify(await consumerLock(tarball), null, 2),
      );
      await sh('npm', ['ci', '--offline', '--ignore-scripts', '--no-audit', '--no-fund'], project);
    },
    { timeout: 240_000 },
  );
  after(() => rm(dir, { recursive: true, force: true }));

  test('ships dist (with the status page files), README, LICENSE, CHANGELOG and the bin; no sources, tests or source maps', () => {
    const outside = files.filter((file) => !file.startsWith('package/dist/'));
    assert.deepEqual(outside, [
      'package/CHANGELOG.md',
      'package/LICENSE',
      'package/README.md',
      'package/bin/tessera.js',
      'package/package.json',
    ]);
    const dist = files.filter((file) => file.startsWith('package/dist/'));
    // Besides code and types, only the status page's files and the gRPC federation proto (read at run time,
    // copied by the build).
    assert.deepEqual(
      dist.filter((file) => !/\.(js|d\.ts)$/.test(file)),
      [
        'package/dist/node/features/federation/grpc/assets/federation.proto',
        'package/dist/node/features/status/assets/status.css',
        'package/dist/node/features/status/assets/status.html',
        'package/dist/node/features/status/assets/status.svg',
      ],
    );
    assert.ok(dist.includes('package/dist/node/features/status/assets/status.js'), 'the page script shipped');
    for (const entry of ['index', 'tls/index', 'transport/index', 'pki/index', 'node/index', 'cli/main']) {
      assert.ok(dist.includes(`package/dist/${entry}.js`), `${entry}.js shipped`);
      if (entry !== 'cli/main')
        assert.ok(dist.includes(`package/dist/${entry}.d.ts`), `${entry}.d.ts shipped`);
    }
  });

  test('every entry point imports with plain node; only tessera/node loads better-sqlite3', async () => {
    for (const entry of ENTRIES) {
      const script = [
        `import { createRequire } from 'node:module';`,
        `const m = await import('${entry}');`,
        `const loaded = Object.keys(createRequire(import.meta.url).cache).some((p) => p.includes('better-sqlite3'));`,
        `console.log(JSON.stringify({ names: Object.keys(m), sqlite: loaded }));`,
      ].join('\n');
      const { stdout } = await sh(process.execPath, ['--input-type=module', '-e', script], project);
      const { names, sqlite } = JSON.parse(stdout) as { names: string[]; sqlite: boolean };
      const expected = {
        tessera: ['CredentialSource', 'createMtlsServer', 'createMtlsAgent', 'exactUri', 'probe'],
        'tessera/tls': [
          'CredentialSource',
          'loadMaterial',
          'ExpiryMonitor',
          'setDefaultLogLevel',
          'TlsError',
        ],
        'tessera/transport': [
          'createMtlsServer',
          'createMtlsAgent',
          'PeerGate',
          'probe',
          'createMtlsGrpcServer',
          'createMtlsChannelCredentials',
        ],
        'tessera/pki': ['createDevPki', 'initCa', 'issueLeaf', 'inspectCertificates'],
        'tessera/node': ['startNode', 'loadConfig'],
      }[entry]!;
      for (const name of expected) assert.ok(names.includes(name), `${entry} exports ${name}`);
      assert.equal(sqlite, entry === 'tessera/node', `${entry} loads better-sqlite3: ${sqlite}`);
    }
  });

  test("the README's library example runs: mTLS server and client, one request", async () => {
    await writeFile(join(project, 'example.mjs'), await readmeExample());
    const { stdout } = await sh(process.execPath, ['example.mjs'], project, { TMPDIR: dir });
    assert.equal(stdout.trim(), "200 { you: [ 'spiffe://example.org/node/b' ] }");
  });

  test('the tessera bin runs the built CLI', async () => {
    const bin = join(project, 'node_modules', 'tessera', 'bin', 'tessera.js');
    const { stdout } = await sh(process.execPath, [bin, '--version'], project);
    assert.equal(stdout.trim(), '0.1.0');
    const out = join(dir, 'bin-pki');
    await sh(process.execPath, [bin, 'pki', 'dev', '--out', out, '--nodes', 'a'], project);
    assert.deepEqual((await readdir(out)).sort(), ['a.crt', 'a.key', 'ca.crt', 'ca.key']);
  });

  test('a TypeScript consumer type-checks against the shipped types', async () => {
    await writeFile(join(project, 'consumer.ts'), CONSUMER_TS);
    const tsconfig = {
      compilerOptions: {
        target: 'ES2022',
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        lib: ['ES2023'],
        strict: true,
        noEmit: true,
        skipLibCheck: true,
        // The consumer brings its own @types/node; ours is the one at hand.
        typeRoots: [join(ROOT, 'node_modules', '@types')],
        types: ['node'],
      },
      files: ['consumer.ts'],
    };
    await writeFile(join(project, 'tsconfig.json'), JSON.stringify(tsconfig, null, 2));
    await sh(process.execPath, [TSC, '-p', 'tsconfig.json'], project);
  });
});
