import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { writeFilesAtomically } from '../../src/pki/atomic-write.ts';
import { tempDir } from '../support/pki.ts';

test('writes every file with its mode and leaves no temp files', async (t) => {
  const dir = await tempDir(t);
  await mkdir(join(dir, 'other'));
  await writeFile(join(dir, 'n.crt'), 'old cert');
  await writeFilesAtomically([
    { path: join(dir, 'n.crt'), data: 'new cert', mode: 0o644 },
    { path: join(dir, 'n.key'), data: new Uint8Array([1, 2, 3]), mode: 0o600 },
    { path: join(dir, 'other', 'x'), data: 'x', mode: 0o640 },
  ]);
  assert.deepEqual((await readdir(dir)).sort(), ['n.crt', 'n.key', 'other']);
  assert.deepEqual(await readdir(join(dir, 'other')), ['x']);
  assert.equal(await readFile(join(dir, 'n.crt'), 'utf8'), 'new cert');
  assert.deepEqual([...(await readFile(join(dir, 'n.key')))], [1, 2, 3]);
  assert.equal((await stat(join(dir, 'n.crt'))).mode & 0o777, 0o644);
  assert.equal((await stat(join(dir, 'n.key'))).mode & 0o777, 0o600);
  assert.equal((await stat(join(dir, 'other', 'x'))).mode & 0o777, 0o640);
});

test('when one target directory is unusable, nothing from the batch becomes visible', async (t) => {
  const dir = await tempDir(t);
  await writeFile(join(dir, 'n.crt'), 'old cert');
  await writeFile(join(dir, 'file.txt'), 'a regular file');
  // A regular file as parent fails for root too (unlike a chmod 0500 directory).
  await assert.rejects(
    writeFilesAtomically([
      { path: join(dir, 'n.key'), data: 'new key', mode: 0o600 },
      { path: join(dir, 'n.crt'), data: 'new cert', mode: 0o644 },
      { path: join(dir, 'file.txt', 'sub', 'x.crt'), data: 'x', mode: 0o644 },
    ]),
    /ENOTDIR/,
  );
  assert.deepEqual((await readdir(dir)).sort(), ['file.txt', 'n.crt']);
  assert.equal(await readFile(join(dir, 'n.crt'), 'utf8'), 'old cert');
});
