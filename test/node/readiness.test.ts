// Readiness tells the truth about the disk: a real `tessera serve` whose data dir is on a small tmpfs.
// Once the file system is full, writes fail and /readyz answers 503 naming the reason; when space is
// freed, /readyz is 200 again and writes work, without a restart. Needs root to mount the tmpfs (CI and
// these machines run tests as root); elsewhere the test is skipped, saying why.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { request } from 'undici';
import { fact, federationGet, startNodeProcess } from '../support/node-process.ts';
import { createTestCa } from '../support/pki.ts';

function mountTmpfs(dir: string, size: string): boolean {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Writes zeros into `file` until the file system refuses (ENOSPC). */
async function fill(file: string): Promise<void> {
  const handle = await open(file, 'w');
  const chunk = Buffer.alloc(64 * 1024);
  try {
    for (;;) await handle.write(chunk);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
  } finally {
    await handle.close().catch(() => undefined);
  }
}

test('disk full: writes fail, /readyz is 503 with the reason; space freed: 200 and writable again', async (t) => {
  const base = await mkdtemp(join(tmpdir(), 'tessera-readyz-'));
  const root = join(base, 'mnt');
  await mkdir(root);
  if (!mountTmpfs(root, '16m')) {
    await rm(base, { recursive: true, force: true });
    t.skip('cannot mount a size-limited tmpfs here (needs root)');
    return;
  }
  t.after(async () => {
    execFileSync('umount', ['-l', root], { stdio: 'ignore' });
    await rm(base, { recursive: true, force: true });
  });
  const node = await startNodeProcess({ name: 'full', ca: await createTestCa(), root });
  t.after(() => node.stop());
  const readyz = async () => {
    const response = await request(new URL('/readyz', node.apiUrl));
    return {
      status: response.statusCode,
      body: (await response.body.json()) as { status: string; reason?: string; checks: { store: string } },
    };
  };
  assert.equal((await readyz()).status, 200);

  const filler = join(root, 'filler');
  await fill(filler);
  let failed = 0;
  for (let i = 0; i < 400 && failed === 0; i++) {
    const written = await node.api(
      'POST',
      '/v1/facts',
      fact(`full:${i}`, 'company', { value: { type: 'text', v: 'x'.repeat(30_000) } }),
    );
    if (written.status >= 500) failed = written.status;
  }
  assert.equal(failed, 500, 'a write fails once the disk is full');
  const notReady = await readyz();
  assert.equal(notReady.status, 503);
  assert.equal(notReady.body.status, 'not_ready');
  assert.match(notReady.body.checks.store, /^not writable: SQLITE_FULL/);
  assert.match(notReady.body.reason ?? '', /^store: not writable: SQLITE_FULL/);
  // The federation listener's probe (over mTLS, no token) says the same.
  const onFederation = await federationGet(node, node.tls, undefined, '/readyz');
  assert.equal(onFederation.status, 503);
  assert.deepEqual(onFederation.body, notReady.body);

  await rm(filler);
  const ready = await readyz();
  assert.equal(ready.status, 200, JSON.stringify(ready.body));
  assert.equal((await node.api('POST', '/v1/facts', fact('full:after'))).status, 201);
});
