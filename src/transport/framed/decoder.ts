// The framed wire's reader: a 4-byte big-endian length, then that many bytes. It takes TCP chunks as they
// come (a header may be split across chunks, several frames may share one) and checks the announced length
// against the maximum as soon as the header is complete, so an oversized frame is refused before a byte of
// its body is kept.

/** Bytes of the length prefix. */
export const FRAME_HEADER_BYTES = 4;

/** Default maximum frame body: 16 MiB. */
export const DEFAULT_MAX_FRAME_BYTES = 16 * 1024 * 1024;

/** The largest length the 4-byte prefix can carry. */
export const MAX_FRAME_LENGTH = 0xffff_ffff;

/** What one chunk of input came to. */
export type DecodeResult =
  | { ok: true; frames: Uint8Array[] }
  /** The announced length is over the maximum: the stream cannot continue (its framing is lost). */
  | { ok: false; frames: Uint8Array[]; reason: 'frame_too_large'; length: number };

export class FrameDecoder {
  readonly #maxFrameBytes: number;
  readonly #header = Buffer.alloc(FRAME_HEADER_BYTES);
  #headerFill = 0;
  /** Body length of the frame being read; -1 while reading a header. */
  #expected = -1;
  #body: Buffer[] = [];
  #bodyFill = 0;

  constructor(maxFrameBytes = DEFAULT_MAX_FRAME_BYTES) {
    if (!Number.isInteger(maxFrameBytes) || maxFrameBytes < 0 || maxFrameBytes > MAX_FRAME_LENGTH)
      throw new RangeError(
        `maxFrameBytes must be an integer in 0..${MAX_FRAME_LENGTH} (got ${maxFrameBytes})`,
      );
    this.#maxFrameBytes = maxFrameBytes;
  }

  /** True between the first byte of a frame and its last: the per-frame deadline runs. */
  get inFrame(): boolean {
    return this.#headerFill > 0 || this.#expected >= 0;
  }

  /** Feeds one chunk; returns the frames it completed, or the refusal that ends the stream. */
  push(chunk: Uint8Array): DecodeResult {
    const frames: Uint8Array[] = [];
    let at = 0;
    while (at < chunk.length) {
      if (this.#expected < 0) {
        const take = Math.min(FRAME_HEADER_BYTES - this.#headerFill, chunk.length - at);
        this.#header.set(chunk.subarray(at, at + take), this.#headerFill);
        this.#headerFill += take;
        at += take;
        if (this.#headerFill < FRAME_HEADER_BYTES) break;
        const length = this.#header.readUInt32BE(0);
        this.#headerFill = 0;
        if (length > this.#maxFrameBytes) return { ok: false, frames, reason: 'frame_too_large', length };
        if (length === 0) {
          frames.push(new Uint8Array(0));
          continue;
        }
        this.#expected = length;
      }
      const take = Math.min(this.#expected - this.#bodyFill, chunk.length - at);
      const piece = chunk.subarray(at, at + take);
      at += take;
      if (take === this.#expected && this.#bodyFill === 0) {
        // The whole body sits in this chunk: no copy.
        frames.push(piece);
        this.#expected = -1;
        continue;
      }
      this.#body.push(Buffer.from(piece));
      this.#bodyFill += take;
      if (this.#bodyFill === this.#expected) {
        frames.push(Buffer.concat(this.#body, this.#bodyFill));
        this.#body = [];
        this.#bodyFill = 0;
        this.#expected = -1;
      }
    }
    return { ok: true, frames };
  }
}

/** The 4-byte big-endian length prefix of a frame body of `length` bytes. */
export function frameHeader(length: number): Buffer {
  const header = Buffer.alloc(FRAME_HEADER_BYTES);
  header.writeUInt32BE(length, 0);
  return header;
}
