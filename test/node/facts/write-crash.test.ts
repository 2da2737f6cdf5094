// Durability of group commit: a real `tessera serve` is killed with SIGKILL in the middle of a burst of
// concurrent writes. Every write that was answered 201 before the kill is there after a restart (its CID
// and id), because a 201 is sent only after the COMMIT its write shared with the others is done.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fact, startNodeProcess } from '../../support/node-process.ts';
import { createTestCa, tempDir } from '../../support/pki.ts';

const WORKERS = 32;

test('kill -9 during a burst of concurrent writes: every write answered 201 is stored after restart', {
  timeout: 180_000,
}, async (t) => {
  const ca = await createTestCa();
  const root = await tempDir(t);
  const node = await startNodeProcess({ name: 'w', ca, root });
  t.after(() => node.kill9());
  const acknowledged: { id: string; cid: string }[] = [];
  let killed = false;
  let reachedTarget!: () => void;
  const target = new Promise<void>((resolve) => {
    reachedTarget = resolve;
  });
  // Each worker writes until the node is gone; answers that arrive are recorded as they come.
  const worker = async (w: number) => {
    for (let i = 0; !killed; i++) {
      try {
        const written = await node.api<{ id: string; cid: string }>(
          'POST',
          '/v1/facts',
          fact(`crash:w${w}/${i}`),
        );
        if (written.status === 201) acknowledged.push({ id: written.body.id, cid: written.body.cid });
        if (acknowledged.length >= 400) reachedTarget();
      } catch {
        return; // the connection died with the node
      }
    }
  };
  const workers = Array.from({ length: WORKERS }, (_, w) => worker(w));
  await target;
  killed = true;
  const answeredBeforeKill = acknowledged.length;
  await node.kill9();
  await Promise.all(workers);
  // Answers cannot arrive after the process is dead; what was counted by then is the promise to keep.
  assert.ok(answeredBeforeKill >= 400);

  const again = await startNodeProcess({
    name: 'w',
    root,
    reuse: { apiKey: node.apiKey, tls: node.tls },
  });
  t.after(() => again.stop());
  const missing: string[] = [];
  for (const { id, cid } of acknowledged) {
    const stored = await again.api<{ cid: string }>('GET', `/v1/facts/${encodeURIComponent(id)}`);
    if (stored.status !== 200 || stored.body.cid !== cid) missing.push(id);
  }
  assert.deepEqual(missing, [], `${missing.length} of ${acknowledged.length} acknowledged writes lost`);
});
