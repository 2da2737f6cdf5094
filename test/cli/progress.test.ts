// The progress line of long CLI operations: shown on a terminal, rewritten at most every 200 ms and cleared
// at the end; nothing at all when stderr is a pipe or a file.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { counted, progress } from '../../src/cli/progress.ts';

function fakeStream(isTTY: boolean) {
  const writes: string[] = [];
  const stream = { isTTY, write: (s: string) => writes.push(s) > 0 } as unknown as NodeJS.WriteStream;
  return { stream, writes };
}

test('on a terminal: a counted line, throttled to one per 200 ms, cleared at the end', async () => {
  const { stream, writes } = fakeStream(true);
  let now = 1_000;
  const p = progress('verifying the audit log', stream, () => now);
  async function* items() {
    for (let i = 0; i < 1000; i++) {
      if (i % 100 === 0) now += 150; // 10 steps of 150 ms
      yield i;
    }
  }
  let seen = 0;
  for await (const _ of counted(items(), p)) seen++;
  p.done();
  assert.equal(seen, 1000, 'every item passes through');
  const lines = writes.slice(0, -1);
  assert.ok(lines.length >= 2 && lines.length <= 8, `throttled: ${lines.length} updates for 1000 items`);
  assert.match(lines[0] as string, /^\rverifying the audit log: \d+ entries$/);
  const counts = lines.map((l) => Number(/(\d+) entries/.exec(l)?.[1]));
  assert.deepEqual(
    [...counts].sort((a, b) => a - b),
    counts,
    'counts only grow',
  );
  assert.equal(writes.at(-1), '\r\x1b[K', 'the line is cleared');
});

test('not a terminal: nothing is written', async () => {
  const { stream, writes } = fakeStream(false);
  const p = progress('exporting the audit log', stream);
  async function* items() {
    yield* [1, 2, 3];
  }
  for await (const _ of counted(items(), p));
  p.done();
  assert.deepEqual(writes, []);
});
