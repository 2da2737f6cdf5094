// Everything time-based (validity, expiry windows) reads time through a Clock so tests can move it.
export type Clock = () => Date;

export const systemClock: Clock = () => new Date();

/**
 * Timers for deadlines (a peer's notAfter, a CRL's nextUpdate), injectable like the Clock: tests pass ones
 * they fire by hand after moving their clock, so nothing waits for real time.
 */
export interface Timers {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** Node's timers, unref'd: a pending deadline never keeps the process alive. */
export const systemTimers: Timers = {
  setTimeout(callback, ms) {
    const timer = setTimeout(callback, ms);
    timer.unref();
    return timer;
  },
  clearTimeout(handle) {
    clearTimeout(handle as NodeJS.Timeout);
  },
};
