// Continuous fact writes against several node replicas (round-robin, as a load balancer spreads them) for
// fault tests: every answer is kept with the replica and the time it came, so a test can say which writes
// were acknowledged (201), how each refused one was refused, and whether a replica recovered.
import { fact, type NodeProcess } from './node-process.ts';

export interface WriteAnswer {
  /** The index of the replica written to. */
  replica: number;
  entity: string;
  at: number;
  status: number;
  body: { cid?: string; error?: string; detail?: string };
}

export interface WriteLoad {
  readonly answers: WriteAnswer[];
  /** Answers of `replica` with `status` that came after `since` (performance.now()). */
  count(replica: number, status: number, since?: number): number;
  /** Stops starting writes; resolves once the ones in flight are answered. */
  stop(): Promise<void>;
}

/** `workers` writers in all; a writer refused with 503 pauses `pauseMs` before its next write. */
export function startWriteLoad(
  replicas: NodeProcess[],
  options: { workers: number; prefix: string; pauseMs?: number },
): WriteLoad {
  const answers: WriteAnswer[] = [];
  let running = true;
  let next = 0;
  const worker = async (index: number): Promise<void> => {
    const replica = index % replicas.length;
    while (running) {
      const entity = `${options.prefix}/${next++}`;
      // A request that gets no answer at all (status 0) is kept too: the test decides what it means.
      const { status, body } = await replicas[replica]!.api<WriteAnswer['body']>(
        'POST',
        '/v1/facts',
        fact(entity),
      ).catch((error: Error) => ({ status: 0, body: { error: 'no_answer', detail: error.message } }));
      answers.push({ replica, entity, at: performance.now(), status, body });
      if (status !== 201) await new Promise((resolve) => setTimeout(resolve, options.pauseMs ?? 25));
    }
  };
  const done = Promise.all(Array.from({ length: options.workers }, (_, i) => worker(i)));
  return {
    answers,
    count: (replica, status, since = 0) =>
      answers.filter((a) => a.replica === replica && a.status === status && a.at > since).length,
    async stop() {
      running = false;
      await done;
    },
  };
}
