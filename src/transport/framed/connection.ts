// One framed mTLS connection, the same object on both sides: frames in (as 'frame' events or by async
// iteration), frames out (send() waits for the socket to drain), and the limits enforced while reading:
// the frame size from the header, the per-frame deadline, the idle deadline. A connection only exists once
// the peer passed the identity checks, so `peer` is always set.
import { EventEmitter } from 'node:events';
import type { TLSSocket } from 'node:tls';
import { describePeer, type PeerIdentity } from '../../tls/identity.ts';
import type { LogSampler } from '../../tls/log-sampler.ts';
import type { Logger } from '../../tls/logger.ts';
import { DEFAULT_MAX_FRAME_BYTES, FrameDecoder, frameHeader } from './decoder.ts';
import {
  DEFAULT_FRAME_TIMEOUT_MS,
  DEFAULT_IDLE_TIMEOUT_MS,
  type FramedLimitEvent,
  type FramedLimitReason,
  type FramedMetrics,
  type FrameLimits,
  recordLimit,
  systemTimers,
  type Timers,
} from './limits.ts';

/**
 * Why a connection ended: a limit (see FramedLimitReason), `closed` (close() or destroy() here), or
 * `socket_closed` (the socket closed otherwise: the peer ended it, the network failed, or the server's
 * peer gate refused the peer on `revalidate()`).
 */
export type FramedCloseReason = Exclude<FramedLimitReason, 'admission_cap'> | 'closed' | 'socket_closed';

export interface FramedConnectionEvents {
  /** A complete frame (its body; may be empty). */
  frame: [frame: Uint8Array];
  /** The connection was closed by a limit (also counted and logged). */
  limit: [event: FramedLimitEvent];
  /** The socket closed; `reason` is also `closeReason`. */
  close: [reason: FramedCloseReason];
}

/** What the server or client hands a connection besides its socket. @internal */
export interface ConnectionContext extends FrameLimits {
  side: 'server' | 'client';
  peer: PeerIdentity;
  logger: Logger;
  metrics: FramedMetrics;
  sample: LogSampler;
}

/** Frames queued for an async iterator before the socket is paused (the consumer is behind). */
const ITERATOR_HIGH_WATER = 16;
/** After close(), how long the peer has to finish its side before the socket is destroyed. */
const CLOSE_GRACE_MS = 5_000;

/** Thrown by send() on a closed connection. */
export class FramedConnectionClosedError extends Error {
  override readonly name = 'FramedConnectionClosedError';
  readonly code = 'FRAMED_CONNECTION_CLOSED';
}

/**
 * A framed connection. Reading starts when the first 'frame' listener is added or iteration starts, so no
 * frame is lost between accept and the handler; until then the socket's buffer fills and TCP pushes back.
 */
export class FramedConnection
  extends EventEmitter<FramedConnectionEvents>
  implements AsyncIterable<Uint8Array>
{
  /** The authenticated peer: the server's view of the client, or the client's view of the server. */
  readonly peer: PeerIdentity;
  /** The underlying TLS socket (addresses, session details); write frames through send(), never to it. */
  readonly socket: TLSSocket;
  readonly #context: ConnectionContext;
  readonly #decoder: FrameDecoder;
  readonly #maxFrameBytes: number;
  readonly #frameTimeoutMs: number;
  readonly #idleTimeoutMs: number;
  readonly #timers: Timers;
  #reading = false;
  /** Paused by an iterator whose consumer is behind: deadlines do not run against us meanwhile. */
  #held = false;
  #frameTimer: unknown = null;
  #idleTimer: unknown = null;
  #drained: Promise<void> | null = null;
  #closeReason: FramedCloseReason | null = null;
  #pendingReason: FramedCloseReason | null = null;
  readonly #closed: Promise<void>;

  /** @internal Built by the framed server and client. */
  constructor(socket: TLSSocket, context: ConnectionContext) {
    super();
    this.socket = socket;
    this.peer = context.peer;
    this.#context = context;
    this.#maxFrameBytes = context.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    this.#decoder = new FrameDecoder(this.#maxFrameBytes);
    this.#frameTimeoutMs = context.frameTimeoutMs ?? DEFAULT_FRAME_TIMEOUT_MS;
    this.#idleTimeoutMs = context.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
    this.#timers = context.timers ?? systemTimers;
    // Errors end in 'close', which is where the connection reports how it ended.
    socket.on('error', () => {});
    this.#closed = new Promise((resolve) => {
      socket.once('close', () => {
        this.#stopTimers();
        this.#closeReason = this.#pendingReason ?? 'socket_closed';
        this.emit('close', this.#closeReason);
        resolve();
      });
    });
    // 'newListener' is not in the typed event map; it is EventEmitter's own.
    (this as EventEmitter).on('newListener', (event: string | symbol) => {
      if (event === 'frame') this.#startReading();
    });
    this.#armIdle();
  }

  /** Null while open; then why it ended. */
  get closeReason(): FramedCloseReason | null {
    return this.#closeReason;
  }

  /** Resolves once the socket has closed. */
  get closed(): Promise<void> {
    return this.#closed;
  }

  /** The largest frame this connection sends or accepts. */
  get maxFrameBytes(): number {
    return this.#maxFrameBytes;
  }

  /**
   * Sends one frame. Resolves once the socket can take more (immediately unless its buffer is over its
   * high-water mark, then on 'drain'), so `await send()` in a loop never buffers without bound. Rejects
   * with FramedConnectionClosedError if the connection is (or gets) closed first, and with a RangeError
   * for a frame over `maxFrameBytes` (nothing is sent).
   */
  send(frame: Uint8Array): Promise<void> {
    if (this.#ended()) return Promise.reject(this.#closedError());
    if (frame.length > this.#maxFrameBytes)
      return Promise.reject(
        new RangeError(`frame of ${frame.length} bytes is over maxFrameBytes (${this.#maxFrameBytes})`),
      );
    this.#armIdle();
    this.socket.cork();
    this.socket.write(frameHeader(frame.length));
    const ok = this.socket.write(frame);
    this.socket.uncork();
    if (ok) return Promise.resolve();
    this.#drained ??= new Promise<void>((resolve, reject) => {
      const onDrain = () => {
        this.socket.off('close', onClose);
        this.#drained = null;
        resolve();
      };
      const onClose = () => {
        this.socket.off('drain', onDrain);
        this.#drained = null;
        reject(this.#closedError());
      };
      this.socket.once('drain', onDrain);
      this.socket.once('close', onClose);
    });
    return this.#drained;
  }

  /** Ends the connection cleanly (TLS close_notify, FIN) and resolves once it has closed. Idempotent. */
  close(): Promise<void> {
    if (!this.#ended()) {
      this.#pendingReason ??= 'closed';
      this.#stopTimers();
      this.socket.end();
      const grace = this.#timers.setTimeout(() => this.socket.destroy(), CLOSE_GRACE_MS);
      void this.#closed.then(() => this.#timers.clearTimeout(grace));
    }
    return this.#closed;
  }

  /** Closes the connection at once (unsent data is dropped). */
  destroy(): void {
    this.#pendingReason ??= 'closed';
    this.socket.destroy();
  }

  /**
   * The frames received, in order, until the connection closes (then the iteration ends; read
   * `closeReason` for why). When the consumer falls behind, reading pauses and TCP pushes back on the
   * peer. Iterate once per connection, or use 'frame' events: not both.
   */
  async *[Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    const queue: Uint8Array[] = [];
    let wake: (() => void) | null = null;
    let done = this.#ended();
    const onFrame = (frame: Uint8Array) => {
      queue.push(frame);
      if (queue.length >= ITERATOR_HIGH_WATER) this.#hold(true);
      wake?.();
    };
    const onClose = () => {
      done = true;
      wake?.();
    };
    this.on('frame', onFrame);
    this.once('close', onClose);
    try {
      while (true) {
        const frame = queue.shift();
        if (frame) {
          if (queue.length === 0) this.#hold(false);
          yield frame;
          continue;
        }
        if (done) return;
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
        wake = null;
      }
    } finally {
      this.off('frame', onFrame);
      this.off('close', onClose);
      this.#hold(false);
    }
  }

  #startReading(): void {
    if (this.#reading) return;
    this.#reading = true;
    this.socket.on('data', (chunk: Buffer) => this.#onData(chunk));
  }

  #onData(chunk: Buffer): void {
    if (this.#ended()) return;
    const wasInFrame = this.#decoder.inFrame;
    const result = this.#decoder.push(chunk);
    for (const frame of result.frames) {
      if (this.#ended()) return;
      this.emit('frame', frame);
    }
    if (this.#ended()) return;
    if (!result.ok) {
      this.#limit(
        'frame_too_large',
        `frame header announced ${result.length} bytes; maxFrameBytes is ${this.#maxFrameBytes}`,
      );
      return;
    }
    this.#armIdle();
    // A new frame started (or one completed and the next began in the same chunk): a fresh deadline.
    if (this.#decoder.inFrame && (!wasInFrame || result.frames.length > 0)) this.#armFrame();
    else if (!this.#decoder.inFrame) this.#clearFrame();
  }

  #hold(held: boolean): void {
    if (held === this.#held || this.#ended()) return;
    this.#held = held;
    if (held) {
      this.socket.pause();
      this.#stopTimers();
    } else {
      this.socket.resume();
      this.#armIdle();
      if (this.#decoder.inFrame) this.#armFrame();
    }
  }

  #armFrame(): void {
    this.#clearFrame();
    if (this.#frameTimeoutMs <= 0 || this.#held) return;
    this.#frameTimer = this.#timers.setTimeout(
      () => this.#limit('frame_timeout', `a frame did not arrive in full within ${this.#frameTimeoutMs} ms`),
      this.#frameTimeoutMs,
    );
  }

  #clearFrame(): void {
    if (this.#frameTimer !== null) this.#timers.clearTimeout(this.#frameTimer);
    this.#frameTimer = null;
  }

  #armIdle(): void {
    if (this.#idleTimer !== null) this.#timers.clearTimeout(this.#idleTimer);
    this.#idleTimer = null;
    if (this.#idleTimeoutMs <= 0 || this.#held || this.#ended()) return;
    this.#idleTimer = this.#timers.setTimeout(
      () => this.#limit('idle_timeout', `nothing received or sent for ${this.#idleTimeoutMs} ms`),
      this.#idleTimeoutMs,
    );
  }

  #stopTimers(): void {
    this.#clearFrame();
    if (this.#idleTimer !== null) this.#timers.clearTimeout(this.#idleTimer);
    this.#idleTimer = null;
  }

  #limit(reason: Exclude<FramedLimitReason, 'admission_cap'>, detail: string): void {
    if (this.#ended()) return;
    this.#pendingReason = reason;
    this.#stopTimers();
    const event: FramedLimitEvent = {
      side: this.#context.side,
      reason,
      detail,
      peer: describePeer(this.peer),
      remoteAddress: this.socket.remoteAddress,
    };
    recordLimit(event, this.#context.logger, this.#context.metrics, this.#context.sample);
    this.emit('limit', event);
    this.socket.destroy();
  }

  #ended(): boolean {
    return this.#pendingReason !== null || this.#closeReason !== null || this.socket.destroyed;
  }

  #closedError(): FramedConnectionClosedError {
    return new FramedConnectionClosedError(
      `framed connection to ${describePeer(this.peer)} is closed (${this.#pendingReason ?? this.#closeReason ?? 'socket_closed'})`,
    );
  }
}
