// Progress of a long CLI operation: one line on stderr, rewritten in place at most a few times a second,
// only when stderr is a terminal. Piped or redirected output stays quiet, so scripts and --json readers
// see nothing extra.
export interface Progress {
  /** Another `n` items done. */
  tick(n?: number): void;
  /** Clears the line. */
  done(): void;
}

const QUIET: Progress = { tick() {}, done() {} };
const EVERY_MS = 200;

export function progress(
  label: string,
  stream: NodeJS.WriteStream = process.stderr,
  now: () => number = Date.now,
): Progress {
  if (!stream.isTTY) return QUIET;
  let count = 0;
  let shown = 0;
  let last = 0;
  const show = () => {
    stream.write(`\r${label}: ${count} entries`);
    shown = count;
    last = now();
  };
  return {
    tick(n = 1) {
      count += n;
      if (now() - last >= EVERY_MS) show();
    },
    done() {
      if (shown !== 0 || last !== 0) stream.write('\r\x1b[K');
    },
  };
}

/** The same items, counted on `p` as they pass. */
export async function* counted<T>(items: AsyncIterable<T>, p: Progress): AsyncGenerator<T> {
  for await (const item of items) {
    p.tick();
    yield item;
  }
}
