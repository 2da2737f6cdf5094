// Quotas as the Stigmem tutorial expects them, on the node as composed, with the injectable clock: at the
// defaults (1 000 writes and 5 000 reads an hour, burst 100) the tutorial's 200-write loop gets its 429 at
// write 101 with the unchanged body; the bucket refills at the hourly rate and never holds more than the
// burst; a burst above a rate is capped by it; both knobs at 0 (acknowledged) is the kill switch, warned.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { pino } from 'pino';
import { bearer, manualClock, type NodeApp, startNodeApp } from '../../support/node-app.ts';

const AGENT = 'stigmem://your-org.example.com/agent';

async function withNode(
  env: Record<string, string>,
  run: (node: NodeApp, key: string, time: ReturnType<typeof manualClock>) => Promise<void>,
) {
  const time = manualClock();
  const node = await startNodeApp({ clock: time.clock, env });
  try {
    await run(node, await node.key(['read', 'write'], AGENT), time);
  } finally {
    await node.close();
  }
}

let n = 0;
const write = (node: NodeApp, key: string) => {
  n++;
  return node.app.inject({
    method: 'POST',
    url: '/v1/facts',
    headers: { ...bearer(key), 'content-type': 'application/json' },
    payload: JSON.stringify({
      entity: `stigmem://test/e${n}`,
      relation: 'seq',
      value: `${n}`,
      scope: 'team',
    }),
  });
};

/** The tutorial's loop: up to `max` writes, stopping at the first 429; returns its index (0 = none). */
async function loop(node: NodeApp, key: string, max = 200) {
  for (let i = 1; i <= max; i++) {
    const response = await write(node, key);
    if (response.statusCode === 429) return { at: i, response };
    assert.equal(response.statusCode, 201, response.body);
  }
  return { at: 0, response: undefined };
}

describe('quotas at the defaults', () => {
  test("the tutorial's 200-write loop sees its 429 at write 101, body unchanged; refill at 1 000 an hour", async () => {
    await withNode({}, async (node, key, time) => {
      const { at, response } = await loop(node, key);
      assert.equal(at, 101, '429 after the burst of 100');
      assert.deepEqual(response?.json(), {
        error: 'quota_exceeded',
        detail: `${AGENT} used its fact_write quota of 1000 per hour; retry in 3.6 s`,
        dimension: 'fact_write',
        principal: AGENT,
        retry_after: 3.6,
      });
      assert.equal(response?.headers['retry-after'], '4');
      // One token every 3.6 s: not before, exactly then.
      time.advance(3599);
      assert.equal((await write(node, key)).statusCode, 429);
      time.advance(1);
      assert.equal((await write(node, key)).statusCode, 201);
      assert.equal((await write(node, key)).statusCode, 429);
      // An idle hour refills the bucket to the burst, not to the hourly ceiling.
      time.advance(3_600_000);
      assert.equal((await loop(node, key)).at, 101);
      const breaches = await node.audit('quota_breach');
      assert.ok(breaches.some((e) => e.principal === AGENT && e.detail.dimension === 'fact_write'));
    });
  });

  test('reads: the same burst, refilled at 5 000 an hour (retry_after 0.8 s)', async () => {
    await withNode({}, async (node, key) => {
      const read = () =>
        node.app.inject({ method: 'GET', url: '/v1/facts?entity=stigmem://test/e1', headers: bearer(key) });
      for (let i = 0; i < 100; i++) assert.equal((await read()).statusCode, 200, `read ${i + 1}`);
      const refused = await read();
      assert.equal(refused.statusCode, 429);
      assert.deepEqual([refused.json().dimension, refused.json().retry_after], ['fact_read', 0.8]);
    });
  });
});

describe('quota settings', () => {
  test('STIGMEM_RATE_LIMIT_WRITE_PER_HOUR=10000: the burst stays 100, the refill is ten times faster', async () => {
    await withNode({ STIGMEM_RATE_LIMIT_WRITE_PER_HOUR: '10000' }, async (node, key, time) => {
      const { at, response } = await loop(node, key);
      assert.equal(at, 101);
      assert.equal(response?.json().retry_after, 0.4);
      time.advance(360);
      assert.equal((await write(node, key)).statusCode, 201);
    });
  });

  test('TESSERA_RATE_LIMIT_BURST sets the burst; a burst above an hourly rate is capped by it', async () => {
    await withNode({ TESSERA_RATE_LIMIT_BURST: '20' }, async (node, key) => {
      assert.equal((await loop(node, key)).at, 21);
    });
    await withNode({ STIGMEM_RATE_LIMIT_WRITE_PER_HOUR: '5' }, async (node, key) => {
      assert.equal((await loop(node, key)).at, 6, 'burst 100 > 5 an hour: 5');
    });
  });

  test('both knobs at 0 (acknowledged) is the kill switch: no 429, a SECURITY WARNING at start', async () => {
    const lines: { event?: string; msg?: string }[] = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
    const time = manualClock();
    const node = await startNodeApp({
      clock: time.clock,
      logger,
      env: {
        STIGMEM_RATE_LIMIT_WRITE_PER_HOUR: '0',
        STIGMEM_RATE_LIMIT_READ_PER_HOUR: '0',
        TESSERA_RATE_LIMIT_DISABLED_ACK: '1',
      },
    });
    try {
      const key = await node.key(['write'], AGENT);
      assert.equal((await loop(node, key, 150)).at, 0);
      const warning = lines.find((l) => l.event === 'quotas_disabled');
      assert.match(warning?.msg ?? '', /^SECURITY WARNING: per-principal quotas are DISABLED/);
    } finally {
      await node.close();
    }
  });
});
