// A promise and its resolver: lets a test hold an async step (a transaction, a run) open at a chosen point.
export function gate(): { wait: Promise<void>; open: () => void } {
  let open!: () => void;
  const wait = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { wait, open };
}
