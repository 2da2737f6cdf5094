// A FIFO queue of async sections: each starts after the previous one settled. The one SQLite write
// connection is shared, so transactions and writes must never interleave their statements on it.
export class Mutex {
  #tail: Promise<unknown> = Promise.resolve();

  run<T>(section: () => Promise<T>): Promise<T> {
    const result = this.#tail.then(section);
    this.#tail = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }
}
