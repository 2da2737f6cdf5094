// The status document's time formats: RFC 3339 instants, whole seconds for durations.
export const iso = (ms: number | null | undefined): string | null =>
  ms === null || ms === undefined ? null : new Date(ms).toISOString();

export const secondsBetween = (fromMs: number, toMs: number): number => Math.round((toMs - fromMs) / 1000);
