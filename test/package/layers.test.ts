// scripts/check-layers.mjs on small made-up trees, so the dependency rule cannot pass by seeing nothing:
// each kind of forbidden import and an env read outside cli is reported with file:line and the rule, a
// commented-out import is not, and a tree that keeps the rule passes.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const SCRIPT = fileURLToPath(new URL('../../scripts/check-layers.mjs', import.meta.url));

async function tree(t: TestContext, files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'tessera-layers-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  for (const [path, text] of Object.entries(files)) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), text);
  }
  return dir;
}

function check(dir: string) {
  const result = spawnSync(process.execPath, [SCRIPT, 'src'], { cwd: dir, encoding: 'utf8' });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

const CLEAN = {
  'src/tls/core.ts': "import { x509 } from './x509.ts';\nexport const core = x509;\n",
  'src/tls/x509.ts': "import { createHash } from 'node:crypto';\nexport const x509 = createHash;\n",
  'src/pki/ca.ts': "import { core } from '../tls/core.ts';\nexport const ca = core;\n",
  'src/transport/server.ts': "import type { core } from '../tls/core.ts';\nexport type S = typeof core;\n",
  'src/store/db.ts': 'export const db = 1;\n',
  'src/node/node.ts':
    "import { db } from '../store/db.ts';\nexport const node = (level: string) => [db, level];\n",
  'src/cli/main.ts':
    "import { node } from '../node/node.ts';\nnode(process.env.LEVEL ?? process.argv[2] ?? 'info');\n",
  'src/index.ts': "export * from './tls/core.ts';\nexport * from './transport/server.ts';\n",
};

test('a tree that keeps the rule passes', async (t) => {
  const result = check(await tree(t, CLEAN));
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /^layers ok: 8 files under src$/m);
});

test('forbidden imports and env reads are reported with file:line and the rule, and fail the check', async (t) => {
  const dir = await tree(t, {
    ...CLEAN,
    'src/tls/core.ts': [
      "import { x509 } from './x509.ts';",
      '// import { ca } from "../pki/ca.ts";  (a comment is not an import)',
      'import {',
      '  ca,',
      "} from '../pki/ca.ts';",
      'export const core = [x509, ca];',
      '',
    ].join('\n'),
    'src/store/db.ts': "export const db = 1;\nexport type N = import('../node/node.ts').N;\n",
    'src/node/node.ts': [
      "import { db } from '../store/db.ts';",
      "export const node = () => [db, process.env['LEVEL']];",
      "export const later = () => import('../cli/main.ts');",
      '',
    ].join('\n'),
    'src/index.ts': "export { db } from './store/db.ts';\n",
  });
  const result = check(dir);
  assert.equal(result.code, 1);
  assert.equal(
    result.stderr,
    [
      'layer rule broken (5):',
      "src/index.ts:1: root may import only root, tls, transport; './store/db.ts' is in store",
      "src/node/node.ts:3: node may import only node, store, transport, tls, pki; '../cli/main.ts' is in cli",
      'src/node/node.ts:2: only cli reads process.env; pass the value in',
      "src/store/db.ts:2: store may import only store, tls, pki; '../node/node.ts' is in node",
      "src/tls/core.ts:3: tls may import only tls; '../pki/ca.ts' is in pki",
      '',
    ].join('\n'),
  );
});

test('a new folder under src/ needs a rule, and imports may not leave src/', async (t) => {
  const dir = await tree(t, {
    ...CLEAN,
    'src/grpc/server.ts': "import { core } from '../tls/core.ts';\nexport const s = core;\n",
    'src/tls/core.ts': "import { fixture } from '../../test/fixture.ts';\nexport const core = fixture;\n",
  });
  const result = check(dir);
  assert.equal(result.code, 1);
  assert.match(
    result.stderr,
    /^src\/grpc\/server\.ts:1: layer 'grpc' has no rule in scripts\/check-layers\.mjs$/m,
  );
  assert.match(
    result.stderr,
    /^src\/tls\/core\.ts:1: imports '\.\.\/\.\.\/test\/fixture\.ts' from outside src\/$/m,
  );
});
