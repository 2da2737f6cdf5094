// Log lines for refusals an outsider can trigger at will (failed handshakes) are sampled: at most a few
// lines per second per reason, and the next line that is written says how many were suppressed. Every
// refusal is still counted in metrics; only the log is thinned, so a flood cannot fill the disk.

export interface LogSample {
  /** Write this line. */
  log: boolean;
  /** Lines of this key suppressed since the last one written (to put on the line written). */
  suppressed: number;
}

export type LogSampler = (key: string) => LogSample;

export function createLogSampler(options: { perSecond?: number; now?: () => number } = {}): LogSampler {
  const perSecond = options.perSecond ?? 5;
  const now = options.now ?? Date.now;
  const windows = new Map<string, { second: number; written: number; suppressed: number }>();
  return (key) => {
    const second = Math.floor(now() / 1000);
    let window = windows.get(key);
    if (!window) {
      // Keys are reasons (a short fixed list); the bound only guards against a caller that passes more.
      if (windows.size >= 1000) windows.clear();
      window = { second, written: 0, suppressed: 0 };
      windows.set(key, window);
    }
    if (window.second !== second) {
      window.second = second;
      window.written = 0;
    }
    if (window.written >= perSecond) {
      window.suppressed += 1;
      return { log: false, suppressed: window.suppressed };
    }
    window.written += 1;
    const suppressed = window.suppressed;
    window.suppressed = 0;
    return { log: true, suppressed };
  };
}
