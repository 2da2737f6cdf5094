// The one file-reload engine: watches directories (fs.watch survives write-temp-then-rename and the
// Kubernetes `..data` symlink swap because it watches the directory, not the file), polls as a fallback
// (network file systems miss events), and listens for SIGHUP. It only says *when* to reload; what a reload
// means (TLS material, node keys) and its single-flight belong to the caller.
import { type FSWatcher, watch } from 'node:fs';

export type WatchTrigger = 'watch' | 'poll' | 'sighup';

export interface FileWatchOptions {
  /** Directories to watch. */
  dirs: readonly string[];
  /** Only events naming one of these files count (an event without a name always counts); default all. */
  names?: ReadonlySet<string>;
  /** Use fs.watch; default true. */
  watch?: boolean;
  /** Poll interval in ms; 0 disables polling. */
  pollMs: number;
  /** Quiet time after the last file event before `onTrigger('watch')`; default 100 ms. */
  debounceMs?: number;
  /** Trigger on SIGHUP; default true. */
  sighup?: boolean;
  onTrigger(trigger: WatchTrigger): void;
  /** A directory cannot be watched (polling goes on). */
  onWatchError?(dir: string, error: Error): void;
}

/** Starts watching; returns the function that stops every watcher, timer and signal handler. */
export function watchFiles(options: FileWatchOptions): () => void {
  let debounce: NodeJS.Timeout | undefined;
  let stopped = false;
  const watchers: FSWatcher[] = [];
  const onEvent = (name: string | Buffer | null) => {
    if (stopped || (options.names && name !== null && !options.names.has(String(name)))) return;
    clearTimeout(debounce);
    debounce = setTimeout(() => options.onTrigger('watch'), options.debounceMs ?? 100);
    debounce.unref();
  };
  if (options.watch !== false) {
    for (const dir of new Set(options.dirs)) {
      try {
        const watcher = watch(dir, { persistent: false }, (_event, name) => onEvent(name));
        watcher.on('error', (error) => {
          options.onWatchError?.(dir, error);
          watcher.close();
        });
        watchers.push(watcher);
      } catch (error) {
        options.onWatchError?.(dir, error as Error);
      }
    }
  }
  const poll = options.pollMs > 0 ? setInterval(() => options.onTrigger('poll'), options.pollMs) : undefined;
  poll?.unref();
  const onSighup = () => options.onTrigger('sighup');
  if (options.sighup !== false) process.on('SIGHUP', onSighup);
  return () => {
    stopped = true;
    for (const watcher of watchers) watcher.close();
    clearTimeout(debounce);
    clearInterval(poll);
    process.off('SIGHUP', onSighup);
  };
}
