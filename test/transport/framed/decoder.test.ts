// The frame reader on its own: every way TCP can cut a stream of frames (a header split at each byte, a
// body split anywhere, several frames in one chunk) gives the same frames, and an oversized length is
// refused from the header alone.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FrameDecoder, frameHeader } from '../../../src/transport/framed/decoder.ts';

const encode = (...bodies: Uint8Array[]) =>
  Buffer.concat(bodies.flatMap((body) => [frameHeader(body.length), Buffer.from(body)]));

const bodies = [
  Buffer.from('hello'),
  new Uint8Array(0),
  Buffer.alloc(300, 7),
  new Uint8Array(0),
  Buffer.from('x'),
];

test('every split point of a stream into two chunks gives the same frames', () => {
  const stream = encode(...bodies);
  for (let cut = 0; cut <= stream.length; cut++) {
    const decoder = new FrameDecoder(1024);
    const first = decoder.push(stream.subarray(0, cut));
    const second = decoder.push(stream.subarray(cut));
    assert.ok(first.ok && second.ok);
    const frames = [...first.frames, ...second.frames].map((frame) => Buffer.from(frame));
    assert.deepEqual(
      frames,
      bodies.map((body) => Buffer.from(body)),
      `cut at ${cut}`,
    );
    assert.equal(decoder.inFrame, false);
  }
});

test('one byte per chunk, and the whole stream in one chunk, give the same frames', () => {
  const stream = encode(...bodies);
  const decoder = new FrameDecoder(1024);
  const frames: Uint8Array[] = [];
  for (const byte of stream) {
    const result = decoder.push(Uint8Array.of(byte));
    assert.ok(result.ok);
    frames.push(...result.frames);
  }
  assert.deepEqual(
    frames.map((frame) => Buffer.from(frame)),
    bodies.map((body) => Buffer.from(body)),
  );
  const whole = new FrameDecoder(1024).push(stream);
  assert.ok(whole.ok);
  assert.equal(whole.frames.length, bodies.length);
});

test('inFrame is set from the first header byte until the last body byte', () => {
  const decoder = new FrameDecoder(16);
  assert.equal(decoder.inFrame, false);
  decoder.push(Uint8Array.of(0));
  assert.equal(decoder.inFrame, true, 'a partial header counts');
  decoder.push(Uint8Array.of(0, 0, 2, 1));
  assert.equal(decoder.inFrame, true, 'a partial body counts');
  const last = decoder.push(Uint8Array.of(2));
  assert.ok(last.ok);
  assert.deepEqual([...last.frames[0]!], [1, 2]);
  assert.equal(decoder.inFrame, false);
});

test('exactly the maximum is accepted; one byte more is refused from the header, before any body', () => {
  const max = 64;
  const exact = new FrameDecoder(max).push(encode(Buffer.alloc(max, 1)));
  assert.ok(exact.ok);
  assert.equal(exact.frames[0]!.length, max);

  const decoder = new FrameDecoder(max);
  // Only the header: the refusal does not wait for a body.
  const over = decoder.push(frameHeader(max + 1));
  assert.deepEqual(over, { ok: false, frames: [], reason: 'frame_too_large', length: max + 1 });
  // Frames completed earlier in the same chunk are still delivered.
  const mixed = new FrameDecoder(max).push(
    Buffer.concat([encode(Buffer.from('ok')), frameHeader(2 ** 32 - 1)]),
  );
  assert.equal(mixed.ok, false);
  assert.deepEqual(
    mixed.frames.map((frame) => Buffer.from(frame).toString()),
    ['ok'],
  );
});

test('the maximum must fit the 4-byte prefix', () => {
  assert.throws(() => new FrameDecoder(2 ** 32), RangeError);
  assert.throws(() => new FrameDecoder(-1), RangeError);
});
