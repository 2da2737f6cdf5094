// TESSERA_PID_FILE with a real `tessera serve` child: the file appears at start (0644, the child's pid),
// `kill -HUP $(cat FILE)` reloads the TLS material (the Stigmem rotation procedure's step), SIGTERM removes
// the file; a file naming a live process refuses the start, a stale one is replaced.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { MaterialPaths } from '../../src/tls/material.ts';
import { runCli, startCli } from '../support/child.ts';
import { createTestCa, type TestCa, testUri, writeMaterial } from '../support/pki.ts';
import { fingerprintOf } from '../support/reload.ts';

const API_KEY = 'pid-file-test-key-0123456789abcdef';

describe('TESSERA_PID_FILE', () => {
  let ca: TestCa;
  let root: string;

  before(async () => {
    ca = await createTestCa();
    root = await mkdtemp(join(tmpdir(), 'tessera-pid-'));
  });
  after(() => rm(root, { recursive: true, force: true }));

  const env = (name: string, tls: MaterialPaths, pidFile: string): Record<string, string> => ({
    TESSERA_DATA_DIR: join(root, name, 'data'),
    TESSERA_ENTITY_URI: testUri('a'),
    TESSERA_FEDERATION_PORT: '0',
    TESSERA_API_PORT: '0',
    TESSERA_TLS_CERT_PATH: tls.certPath,
    TESSERA_TLS_KEY_PATH: tls.keyPath,
    TESSERA_TLS_CA_BUNDLE: tls.caPath,
    TESSERA_API_KEY: API_KEY,
    TESSERA_LOG_LEVEL: 'info',
    TESSERA_PID_FILE: pidFile,
  });

  test('written at start (0644, the pid), `kill -HUP $(cat FILE)` reloads, removed at SIGTERM', async () => {
    // The certificate path is a symlink into another directory: the directory watch does not see a change
    // there, so a prompt reload can only come from the signal (the 5 s poll would come later).
    const material = join(root, 'hup', 'material');
    const linked = join(root, 'hup', 'tls');
    await mkdir(linked, { recursive: true });
    await mkdir(material, { recursive: true });
    const tls = await writeMaterial(material, 'node', await ca.issue('a'), ca.certPem);
    await symlink(tls.certPath, join(linked, 'node.crt'));
    const paths = { ...tls, certPath: join(linked, 'node.crt') };
    const pidFile = join(root, 'hup', 'tessera.pid');
    const node = startCli(['serve'], { env: env('hup', paths, pidFile) });
    try {
      const ready = await node.waitForEvent((e) => e.event === 'node_ready', 60_000);
      assert.equal(ready.pid_file, pidFile);
      assert.equal(await readFile(pidFile, 'utf8'), `${node.child.pid}\n`);
      assert.equal((await stat(pidFile)).mode & 0o777, 0o644);

      let reloaded: Record<string, unknown> | undefined;
      for (let attempt = 0; attempt < 3 && reloaded?.trigger !== 'sighup'; attempt++) {
        const next = await ca.issue('a');
        await writeFile(tls.certPath, next.chainPem);
        await writeFile(tls.keyPath, next.keyPem, { mode: 0o600 });
        // The operator's command, literally.
        await new Promise<void>((resolve, reject) =>
          execFile('/bin/sh', ['-c', `kill -HUP $(cat '${pidFile}')`], (error) =>
            error ? reject(error) : resolve(),
          ),
        );
        const fingerprint = fingerprintOf(next.certPem);
        reloaded = await node.waitForEvent(
          (e) => e.event === 'tls_reload' && e.result === 'success' && e.fingerprint256 === fingerprint,
          15_000,
        );
      }
      assert.equal(reloaded?.trigger, 'sighup', 'reloaded by the signal');
      assert.ok(node.events().some((e) => e.event === 'sighup'));
      assert.equal(node.child.exitCode, null, 'SIGHUP does not stop the node');
    } finally {
      await node.stop();
    }
    assert.deepEqual(await node.exited, { code: 0, signal: null });
    assert.ok(!existsSync(pidFile), 'removed at exit');
  });

  test('a PID file naming a live process refuses the start; a stale one is replaced', async () => {
    await mkdir(join(root, 'held'), { recursive: true });
    const tls = await writeMaterial(join(root, 'held'), 'node', await ca.issue('a'), ca.certPem);
    const pidFile = join(root, 'held', 'tessera.pid');
    await writeFile(pidFile, `${process.pid}\n`);
    const refused = await runCli(['serve'], { env: env('held', tls, pidFile) });
    assert.equal(refused.code, 1);
    assert.equal(
      refused.stderr,
      `tessera: the PID file ${pidFile} names process ${process.pid}, which is running: stop it first (or remove the file if that process is not a Tessera node)\n`,
    );
    assert.equal(await readFile(pidFile, 'utf8'), `${process.pid}\n`, 'left alone');

    // A pid no process has: the file of a node that died without cleaning up.
    await writeFile(pidFile, '4194304\n');
    const node = startCli(['serve'], { env: env('held', tls, pidFile) });
    try {
      await node.waitForEvent((e) => e.event === 'node_ready', 60_000);
      assert.equal(await readFile(pidFile, 'utf8'), `${node.child.pid}\n`);
    } finally {
      await node.stop();
    }
    assert.ok(!existsSync(pidFile));
  });
});
