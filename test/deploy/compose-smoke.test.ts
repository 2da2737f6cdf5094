// scripts/mtls-compose-smoke.sh --local, what CI runs in place of the compose stack: the seed's smoke steps
// (health over mTLS, peers registered both ways, a fact asserted on A and read on B) against two real
// `tessera serve` processes, then clean-up; and a step that fails says which step and why, exits non-zero,
// and still cleans up.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { copyFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { alive, generateDemoCerts, runSmoke, smokeSteps } from '../support/deploy.ts';
import { tempDir } from '../support/pki.ts';

/** The work dir and node pids the script announced. */
function announced(stdout: string): { workDir: string; pids: number[] } {
  const workDir = /^smoke: local mode, work dir (\S+)$/m.exec(stdout)?.[1];
  assert.ok(workDir, stdout);
  const pids = [...stdout.matchAll(/ok: stigmem-[ab] \(pid (\d+)\)/g)].map((m) => Number(m[1]));
  return { workDir, pids };
}

describe('scripts/mtls-compose-smoke.sh --local', () => {
  test('runs every smoke step against two local nodes, passes, and cleans up', async () => {
    const result = await runSmoke(['--local']);
    assert.equal(result.code, 0, `${result.stdout}\n${result.stderr}`);
    assert.deepEqual(smokeSteps(result.stdout), [
      'generate demo certificates',
      'start nodes (local)',
      'health over mTLS (stigmem-a)',
      'health over mTLS (stigmem-b)',
      'register peers',
      'assert a fact on stigmem-a',
      'read the fact on stigmem-b',
    ]);
    assert.match(result.stdout, /ok: https:\/\/stigmem-a:\d+\/healthz → \{"status":"ok"\}/);
    assert.match(result.stdout, /ok: https:\/\/stigmem-b:\d+\/healthz → \{"status":"ok"\}/);
    assert.match(
      result.stdout,
      /ok: stigmem-a approved stigmem-b \(stigmem:\/\/compose\.example\/nodes\/b, key sha256:[0-9a-f]{64}\)/,
    );
    assert.match(
      result.stdout,
      /ok: stigmem-b approved stigmem-a \(stigmem:\/\/compose\.example\/nodes\/a, key sha256:[0-9a-f]{64}\)/,
    );
    const asserted =
      /ok: (stigmem:\/\/smoke\.example\/run\/[0-9a-f]+) smoke=(replicated-[0-9a-f]+) \((sha256:[0-9a-f]{64})\)/.exec(
        result.stdout,
      );
    assert.ok(asserted, result.stdout);
    assert.ok(
      result.stdout.includes(
        `ok: stigmem-b has ${asserted[3]}: ${asserted[2]} from stigmem://compose.example/nodes/a`,
      ),
      'the fact read on B is the one asserted on A, with A as its origin',
    );
    assert.match(result.stdout, /^smoke: PASSED$/m);
    const { workDir, pids } = announced(result.stdout);
    assert.equal(pids.length, 2);
    assert.match(result.stdout, new RegExp(`smoke: cleaned up \\(nodes stopped, ${workDir} removed\\)`));
    assert.ok(!existsSync(workDir), 'the temp dir (certificates, data, keys) is gone');
    for (const pid of pids) assert.ok(!alive(pid), `node ${pid} was stopped`);
    assert.equal(result.stderr, '');
  });

  test('node B with a certificate from another CA: the failing step is named, exit 1, A is stopped', async (t) => {
    const tls = await tempDir(t, 'tessera-smoke-tls-');
    const other = await tempDir(t, 'tessera-smoke-other-');
    await generateDemoCerts(tls);
    await generateDemoCerts(other);
    for (const file of ['node-b.crt', 'node-b.key']) await copyFile(join(other, file), join(tls, file));

    const result = await runSmoke(['--local'], { TESSERA_SMOKE_TLS_DIR: tls });
    assert.equal(result.code, 1, result.stdout);
    assert.deepEqual(smokeSteps(result.stdout), ['generate demo certificates', 'start nodes (local)']);
    assert.match(
      result.stderr,
      /^smoke: FAILED at step 'start nodes \(local\)': stigmem-b exited before it was ready: tessera: TLS_CHAIN_UNTRUSTED: certificate \S+\/stigmem-b\/tls\/node\.crt \(CN=stigmem-b, issuer CN=Tessera Compose Demo Federation CA\) does not chain to a CA in \S+\/stigmem-b\/tls\/ca\.crt/m,
    );
    assert.doesNotMatch(result.stdout, /PASSED/);
    const { workDir, pids } = announced(result.stdout);
    assert.ok(!existsSync(workDir), 'cleaned up after the failure too');
    for (const pid of pids) assert.ok(!alive(pid), `node ${pid} was stopped`);
    assert.ok(
      existsSync(join(tls, 'ca.crt')),
      "material given by TESSERA_SMOKE_TLS_DIR is the caller's: kept",
    );
  });
});
