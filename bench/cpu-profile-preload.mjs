// Preloaded into `tessera serve` by the benchmark (NODE_OPTIONS=--import …; Node 20 refuses --cpu-prof in
// NODE_OPTIONS): profiles the whole process with V8's sampling profiler and writes a .cpuprofile into
// BENCH_CPU_PROF_DIR when the process exits (inspector sessions on the main thread answer synchronously).
// SIGUSR2 discards what was sampled so far and starts again: the benchmark sends it when its measured load
// begins, so start-up (module loading, TypeScript transpiling) and warm-up stay out of the profile.
import { mkdirSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { join } from 'node:path';

const dir = process.env.BENCH_CPU_PROF_DIR;
if (dir) {
  const session = new Session();
  session.connect();
  session.post('Profiler.enable');
  session.post('Profiler.start');
  process.on('SIGUSR2', () => {
    session.post('Profiler.stop');
    session.post('Profiler.start');
  });
  process.on('exit', () => {
    session.post('Profiler.stop', (error, result) => {
      if (error || !result) return;
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, `CPU.${Date.now()}.${process.pid}.cpuprofile`), JSON.stringify(result.profile));
    });
  });
}
