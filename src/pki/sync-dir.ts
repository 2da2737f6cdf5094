// Makes a rename or link inside a directory durable: fsync of the directory itself. The files are already
// in place (and fsynced) when this runs, so a file system that refuses fsync on directories, or a platform
// that cannot open one (Windows), is not a failure of the write: the step is skipped.
import { open } from 'node:fs/promises';

export async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r').catch(() => null);
  if (!handle) return;
  try {
    await handle.sync();
  } catch {
    // Refused by the file system (see above).
  } finally {
    await handle.close();
  }
}
