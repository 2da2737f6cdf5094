// Writes a batch of files so that a reader (a person, or Tessera's credential reloader watching the
// directory) sees either all of the new files or none of them: complete, fsynced temp files first, then
// renames. Renames are the only step that is not all-or-nothing; a rename inside one directory on one file
// system does not fail in practice once the temp file exists there.
import { randomBytes } from 'node:crypto';
import { type FileHandle, open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { syncDirectory } from './sync-dir.ts';

export interface FileToWrite {
  path: string;
  data: string | Uint8Array;
  mode: number;
}

export async function writeFilesAtomically(files: FileToWrite[]): Promise<void> {
  const temps: { temp: string; file: FileToWrite }[] = [];
  try {
    for (const file of files) {
      // Same directory as the target, so the final rename is atomic (same file system).
      const temp = join(dirname(file.path), `.${basename(file.path)}.${randomBytes(6).toString('hex')}.tmp`);
      temps.push({ temp, file });
      await writeTemp(temp, file);
    }
  } catch (error) {
    await Promise.all(temps.map(({ temp }) => rm(temp, { force: true }).catch(() => {})));
    throw error;
  }
  // Keys first: a watcher that reacts to the certificate changing then finds the matching key already there.
  const ordered = [...temps].sort((a, b) => rank(a.file) - rank(b.file));
  for (let i = 0; i < ordered.length; i++) {
    const { temp, file } = ordered[i]!;
    try {
      await rename(temp, file.path);
    } catch (error) {
      await Promise.all(ordered.slice(i).map((t) => rm(t.temp, { force: true }).catch(() => {})));
      throw error;
    }
  }
  // Make the renames themselves durable.
  for (const dir of new Set(files.map((file) => dirname(file.path)))) await syncDirectory(dir);
}

async function writeTemp(temp: string, file: FileToWrite): Promise<void> {
  // 'wx': never follow or reuse an existing path; the mode applies from creation so a key is never
  // readable by others, even briefly. chmod afterwards because the umask may have narrowed the mode.
  let handle: FileHandle | undefined;
  try {
    handle = await open(temp, 'wx', file.mode);
    await handle.writeFile(file.data);
    await handle.chmod(file.mode);
    await handle.sync();
  } finally {
    await handle?.close();
  }
}

function rank(file: FileToWrite): number {
  return file.path.endsWith('.key') || (file.mode & 0o077) === 0 ? 0 : 1;
}
