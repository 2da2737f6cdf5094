// Fact writes over keep-alive HTTP, spread round-robin over the API URLs given (as a load balancer would
// spread them over replicas): `concurrency` requests in flight in all, each must be answered 201.
import { Agent, request } from 'undici';
import { fact } from '../test/support/node-process.ts';

export interface WriteTarget {
  apiUrl: string;
  apiKey: string;
}

/** Writes `count` new facts (entities `<prefix>/<i>`); resolves with the wall-clock seconds it took. */
export async function writeFacts(
  targets: WriteTarget[],
  count: number,
  options: { concurrency: number; prefix: string },
): Promise<number> {
  const agents = targets.map(() => new Agent({ connections: options.concurrency, keepAliveTimeout: 30_000 }));
  let next = 0;
  try {
    const started = performance.now();
    await Promise.all(
      Array.from({ length: options.concurrency }, async (_, worker) => {
        const index = worker % targets.length;
        const target = targets[index]!;
        const agent = agents[index]!;
        while (next < count) {
          const i = next++;
          const response = await request(new URL('/v1/facts', target.apiUrl), {
            method: 'POST',
            dispatcher: agent,
            headers: { authorization: `Bearer ${target.apiKey}`, 'content-type': 'application/json' },
            body: JSON.stringify(fact(`${options.prefix}/${i}`)),
          });
          const body = await response.body.text();
          if (response.statusCode !== 201) throw new Error(`write ${i}: ${response.statusCode} ${body}`);
        }
      }),
    );
    return (performance.now() - started) / 1000;
  } finally {
    await Promise.all(agents.map((agent) => agent.close()));
  }
}
