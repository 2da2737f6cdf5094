// CPU time of server processes, read from /proc (Linux): what the benchmark divides its figures by, so a
// rate is also a cost. A process's time is utime + stime; a PostgreSQL server's is its postmaster's, the
// children it has reaped (ended sessions) and its live children (backends, background workers).
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

const TICKS_PER_SECOND = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

/** The fields after the command name (which may hold spaces): index 0 is the state (field 3 of stat). */
function statFields(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/** utime + stime (fields 14, 15), and with `reaped` cutime + cstime (16, 17), in seconds. */
function seconds(fields: string[], reaped: boolean): number {
  const at = (field: number) => Number(fields[field - 3] ?? 0);
  const ticks = at(14) + at(15) + (reaped ? at(16) + at(17) : 0);
  return ticks / TICKS_PER_SECOND;
}

/** CPU seconds used so far by the process `pid` (0 once it is gone). */
export function processCpuSeconds(pid: number): number {
  const fields = statFields(pid);
  return fields ? seconds(fields, false) : 0;
}

/** CPU seconds used so far by a server and every process it started (PostgreSQL's backends). */
export function serverTreeCpuSeconds(pid: number): number {
  const own = statFields(pid);
  if (!own) return 0;
  let total = seconds(own, true);
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const fields = statFields(Number(entry));
    // Field 4 is the parent's pid.
    if (fields && Number(fields[1]) === pid) total += seconds(fields, false);
  }
  return total;
}

/** CPU seconds of a set of processes between start() and stop(). */
export function cpuMeter(read: () => number): { stop(): number } {
  const start = read();
  return { stop: () => read() - start };
}
