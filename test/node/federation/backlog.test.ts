// A backlog larger than one pull cycle is caught up without waiting for the pull interval: a capped cycle
// that stored facts starts the next at once. (A capped cycle that stored nothing still waits: the endless
// feed of test/node/federation/hostile-peer.test.ts, case 4a.)
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { addAndApprove, startNodeProcess } from '../../support/node-process.ts';
import { createTestCa, tempDir, testUri } from '../../support/pki.ts';
import { until } from '../../support/reload.ts';
import { countOnDisk, seedFacts } from '../../support/seed.ts';

const TOTAL = 3000; // six feed pages of 500
const PAGES_PER_CYCLE = 2; // so three capped cycles

test('a backlog of several capped cycles arrives whole with an hour-long pull interval', {
  timeout: 180_000,
}, async (t) => {
  const ca = await createTestCa();
  const root = await tempDir(t);
  await seedFacts(join(root, 'a'), testUri('a'), TOTAL);
  const env = {
    TESSERA_FEDERATION_PULL_INTERVAL_S: '3600',
    TESSERA_FEDERATION_MAX_PAGES_PER_CYCLE: String(PAGES_PER_CYCLE),
  };
  const a = await startNodeProcess({ name: 'a', ca, root, env });
  const b = await startNodeProcess({ name: 'b', ca, root, env });
  t.after(async () => {
    await Promise.all([a.stop(), b.stop()]);
  });
  await addAndApprove(a, b);
  await addAndApprove(b, a); // B approving A starts B's pull from A
  const total = async () => (await b.api<{ total: number }>('GET', '/v1/facts?limit=1')).body.total;
  // Well under the interval: only the cycles that follow each other can have brought them.
  await until('B to hold every fact', async () => (await total()) === TOTAL, {
    timeoutMs: 120_000,
    intervalMs: 100,
  });
  const metrics = await (await fetch(new URL('/metrics', b.apiUrl))).text();
  const capped = Number(
    /^tessera_federation_pulls_total\{[^}]*result="capped"[^}]*\} (\d+)$/m.exec(metrics)?.[1],
  );
  assert.ok(
    capped >= TOTAL / 500 / PAGES_PER_CYCLE - 1,
    `cycles were capped (${capped}), not one long cycle`,
  );
  await Promise.all([a.stop(), b.stop()]);
  assert.deepEqual(countOnDisk(b.dataDir), { rows: TOTAL, distinctCids: TOTAL, distinctIds: TOTAL });
});
