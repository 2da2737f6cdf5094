// TESSERA_PID_FILE: `tessera serve` writes its process id so operators can `kill -HUP $(cat FILE)` (reload
// TLS material and keys, as the Stigmem rotation procedure does) or stop it. Written whole or not at all
// (temp file + rename, 0644), refused while another live process holds it, removed at exit — but only
// while it still names this process, so a successor's file is never deleted.
import { randomBytes } from 'node:crypto';
import { readFileSync, unlinkSync } from 'node:fs';
import { chmod, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** Writes the PID file; returns the function that removes it (idempotent, also run on process exit). */
export async function writePidFile(path: string, pid = process.pid): Promise<() => void> {
  const holder = await readPid(path);
  if (holder !== null && holder !== pid && isAlive(holder))
    throw new Error(
      `the PID file ${path} names process ${holder}, which is running: stop it first (or remove the file if that process is not a Tessera node)`,
    );
  const temp = join(dirname(path), `.${basename(path)}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    await writeFile(temp, `${pid}\n`, { mode: 0o644 });
    await chmod(temp, 0o644); // the umask may have taken bits off
    await rename(temp, path);
  } catch (error) {
    await unlink(temp).catch(() => undefined);
    throw new Error(
      `cannot write the PID file ${path} (${(error as NodeJS.ErrnoException).code ?? 'error'})`,
    );
  }
  let removed = false;
  const remove = () => {
    if (removed) return;
    removed = true;
    process.off('exit', remove);
    try {
      if (readFileSync(path, 'utf8').trim() === String(pid)) unlinkSync(path);
    } catch {
      // Already gone, or unreadable: nothing of ours to remove.
    }
  };
  process.on('exit', remove);
  return remove;
}

async function readPid(path: string): Promise<number | null> {
  try {
    const text = (await readFile(path, 'utf8')).trim();
    return /^\d{1,10}$/.test(text) ? Number(text) : null;
  } catch {
    return null;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists, it is just not ours to signal.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
