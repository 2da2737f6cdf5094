// Strict parsing of numeric CLI values: "8x", "1.5" or "" are errors, not silently truncated numbers.
export function parsePort(value: string, name: string): number {
  const port = Number(value);
  if (!/^\d+$/.test(value) || port > 65535)
    throw new Error(`${name} must be an integer from 0 to 65535 (got "${value}")`);
  return port;
}

export function parseMillis(value: string, name: string): number {
  if (!/^\d+$/.test(value))
    throw new Error(`${name} must be a whole number of milliseconds (got "${value}")`);
  return Number(value);
}
