// Events an outsider can trigger at will (a refused handshake, a bad token) are audited at most `perMinute`
// times a minute for each kind: the audit log shows that it happens without letting anyone grow it without
// bound. Every occurrence is still counted in the metrics.
export function auditSampler(perMinute: number, now: () => number = Date.now): (kind: string) => boolean {
  const windows = new Map<string, { start: number; count: number }>();
  return (kind) => {
    const t = now();
    const window = windows.get(kind);
    if (!window || t - window.start >= 60_000) {
      if (windows.size > 1000) windows.clear();
      windows.set(kind, { start: t, count: 1 });
      return true;
    }
    window.count++;
    return window.count <= perMinute;
  };
}
