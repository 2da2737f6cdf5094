// A lock file in the data dir so that the CLI (rotating a key) and a running node (logging its new
// manifest) never interleave appends to the transparency log or two rotations. O_EXCL creation is atomic
// on local file systems; a lock older than STALE_MS belongs to a process that died and is broken.
import { open, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { RotationError } from './errors.ts';

export const LOCK_FILE = 'tlog.lock';
const STALE_MS = 60_000;

export async function withDataDirLock<T>(
  dataDir: string,
  fn: () => Promise<T>,
  options: { timeoutMs?: number } = {},
): Promise<T> {
  const path = join(dataDir, LOCK_FILE);
  const deadline = Date.now() + (options.timeoutMs ?? 5000);
  for (;;) {
    try {
      const handle = await open(path, 'wx', 0o600);
      await handle.writeFile(`${process.pid}\n`);
      await handle.close();
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
        const code = (error as NodeJS.ErrnoException).code ?? 'error';
        throw new RotationError('write_failed', `cannot create the lock ${path} (${code})`);
      }
      const age = await stat(path).then(
        (info) => Date.now() - info.mtimeMs,
        () => 0,
      );
      if (age > STALE_MS) {
        await rm(path, { force: true });
        continue;
      }
      if (Date.now() > deadline)
        throw new RotationError(
          'tlog_locked',
          `${path} is held by another process (a rotation or a node writing the transparency log); retry, or remove it if no Tessera process is running`,
        );
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }
  try {
    return await fn();
  } finally {
    await rm(path, { force: true });
  }
}
