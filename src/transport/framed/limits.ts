// The limits a framed connection enforces, what closing one for a limit is called, and where it is
// counted: `tessera_framed_limit_closures_total{side,reason}`, next to the handshake refusals the peer gate
// counts in the TLS metrics. Each closure is also logged (sampled: a peer can trigger these at will).
import { Counter, Registry } from 'prom-client';
import type { LogSampler } from '../../tls/log-sampler.ts';
import type { Logger } from '../../tls/logger.ts';

/**
 * Why a framed connection was closed by a limit:
 * - `admission_cap`: the server already holds `maxConnections`; the socket is destroyed at accept, before any handshake;
 * - `frame_too_large`: a frame header announced more than `maxFrameBytes` (checked before the body is read);
 * - `frame_timeout`: a frame that had started did not arrive in full within `frameTimeoutMs`;
 * - `idle_timeout`: nothing was received or sent for `idleTimeoutMs`.
 */
export type FramedLimitReason = 'admission_cap' | 'frame_too_large' | 'frame_timeout' | 'idle_timeout';

/** One connection closed by a limit (the `limit` event of a server or connection). */
export interface FramedLimitEvent {
  /** 'server': on a connection we accepted; 'client': on one we dialled. */
  side: 'server' | 'client';
  reason: FramedLimitReason;
  detail: string;
  /** The peer's first URI SAN or fingerprint, once known (not for `admission_cap`). */
  peer?: string;
  remoteAddress?: string | undefined;
}

// The core's injectable timers (tls/clock.ts), re-exported for this wire's files.
import type { Timers } from '../../tls/clock.ts';

export { systemTimers, type Timers } from '../../tls/clock.ts';

/** Limits of one framed connection (server and client alike). */
export interface FrameLimits {
  /** Largest frame body accepted, and sent; a larger announced length closes the connection. Default 16 MiB. */
  maxFrameBytes?: number;
  /** A frame whose first byte has arrived must be complete within this; 0 disables. Default 30 000 ms. */
  frameTimeoutMs?: number;
  /** Close a connection on which nothing is received or sent for this long; 0 disables. Default 300 000 ms. */
  idleTimeoutMs?: number;
  /** Default: the global timers. */
  timers?: Timers;
}

export const DEFAULT_FRAME_TIMEOUT_MS = 30_000;
export const DEFAULT_IDLE_TIMEOUT_MS = 300_000;
export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 10_000;
export const DEFAULT_MAX_CONNECTIONS = 1024;

export type FramedMetrics = ReturnType<typeof createFramedMetrics>;

/** The framed wire's counter in `registry` (default: a private registry nobody scrapes). */
export function createFramedMetrics(registry: Registry = new Registry()) {
  return {
    limitClosures: new Counter({
      name: 'tessera_framed_limit_closures_total',
      help: 'Framed TCP connections closed by a limit (admission cap, frame size, frame or idle deadline), by side and reason',
      labelNames: ['side', 'reason'] as const,
      registers: [registry],
    }),
  };
}

/** Counts the closure (always) and logs it (sampled per side and reason; idle timeouts at debug). */
export function recordLimit(
  event: FramedLimitEvent,
  logger: Logger,
  metrics: FramedMetrics,
  sample: LogSampler,
): void {
  metrics.limitClosures.inc({ side: event.side, reason: event.reason });
  const decision = sample(`${event.side}:${event.reason}`);
  if (!decision.log) return;
  const line = {
    event: 'framed_limit',
    ...event,
    ...(decision.suppressed ? { suppressed: decision.suppressed } : {}),
  };
  const message = `framed connection closed (${event.side} side): ${event.reason}`;
  if (event.reason === 'idle_timeout') logger.debug(line, message);
  else logger.warn(line, message);
}
