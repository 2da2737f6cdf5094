// STIGMEM_FEDERATION_PUSH_ENABLED / TESSERA_FEDERATION_PUSH_ENABLED=false, between two real node processes:
// a write on A (push off) sends no wake to B; a write on B (push on by default) wakes A. Wakes are counted
// where they arrive, on the peer's federation listener (its request metrics).
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { request } from 'undici';
import { FEDERATION_PATHS } from '../../src/node/features/federation/https/paths.ts';
import { addAndApprove, fact, type NodeProcess, startNodeProcess } from '../support/node-process.ts';
import { createTestCa } from '../support/pki.ts';

/** Wakes this node's federation listener has answered (any status), from its /metrics. */
async function wakesServed(node: NodeProcess): Promise<number> {
  const text = await (await request(new URL('/metrics', node.apiUrl))).body.text();
  const route = FEDERATION_PATHS.wake.replaceAll('/', '\\/');
  const lines = text
    .split('\n')
    .filter((l) => new RegExp(`^tessera_http_requests_total\\{.*route="${route}"`).test(l));
  return lines.reduce((sum, line) => sum + Number(line.split(' ').at(-1)), 0);
}

describe('push wakes switched off on the writer', () => {
  let root: string;
  let a: NodeProcess;
  let b: NodeProcess;

  before(async () => {
    const ca = await createTestCa();
    root = await mkdtemp(join(tmpdir(), 'tessera-push-off-'));
    // Hourly pulls: no pull traffic in the way.
    const hourly = { TESSERA_FEDERATION_PULL_INTERVAL_S: '3600' };
    [a, b] = await Promise.all([
      startNodeProcess({ name: 'a', ca, root, env: { ...hourly, STIGMEM_FEDERATION_PUSH_ENABLED: 'false' } }),
      startNodeProcess({ name: 'b', ca, root, env: hourly }),
    ]);
    await addAndApprove(a, b);
    await addAndApprove(b, a);
  });
  after(async () => {
    await Promise.all([a, b].map((n) => n?.stop()));
    await rm(root, { recursive: true, force: true });
  });

  test('a write on A (push off) sends B no wake', async () => {
    const before = await wakesServed(b);
    const written = await a.api('POST', '/v1/facts', fact('acme:site/no-push'));
    assert.equal(written.status, 201);
    await new Promise((r) => setTimeout(r, 1500)); // the debounce is 50 ms
    assert.equal(await wakesServed(b), before);
  });

  test('a write on B (push on, the default) sends A a wake', async () => {
    const before = await wakesServed(a);
    const written = await b.api('POST', '/v1/facts', fact('acme:site/push'));
    assert.equal(written.status, 201);
    const started = Date.now();
    while ((await wakesServed(a)) === before) {
      assert.ok(Date.now() - started < 10_000, 'no wake reached A');
      await new Promise((r) => setTimeout(r, 50));
    }
  });
});
