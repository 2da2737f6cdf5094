// `npm run example:mesh-cache`: a throwaway dev PKI (one CA, nodes a, b, c) in a temp directory, three
// mesh cache processes peered with each other over framed mTLS, a short demo, then the control ports to
// play with until Ctrl-C (`--once`: demo only, then exit).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDevPki } from '../../src/pki/index.ts';
import { meshTogether, type NodeProcess, startNodeProcess } from './launch.ts';

const dir = await mkdtemp(join(tmpdir(), 'tessera-mesh-cache-'));
const pki = await createDevPki({ out: dir, nodes: ['a', 'b', 'c'] });
const nodes: NodeProcess[] = [];
const shutdown = async () => {
  await Promise.all(nodes.map((node) => node.stop()));
  await rm(dir, { recursive: true, force: true });
};
try {
  for (const issued of pki.nodes)
    nodes.push(
      await startNodeProcess(issued.name, { cert: issued.certPath, key: issued.keyPath, ca: pki.caCertPath }),
    );
  await meshTogether(nodes);
  const [a, b, c] = nodes as [NodeProcess, NodeProcess, NodeProcess];
  console.log(`dev PKI in ${dir}; nodes a, b, c peered over framed mTLS\n`);
  const show = async (node: NodeProcess, line: string) =>
    console.log(`${node.name}> ${line}\n   ${await node.command(line)}`);
  await show(a, 'PUT user:1 0 alice');
  await show(a, 'PUT user:2 60000 bob');
  await b.waitFor((event) => event.event === 'applied' && event.key === 'user:2');
  await show(b, 'GET user:1');
  await show(c, 'GET user:2');
  await show(c, 'PURGE user:');
  await a.waitFor((event) => event.event === 'applied' && event.op === 'purge');
  await show(a, 'GET user:1');
  if (process.argv.includes('--once')) {
    await shutdown();
  } else {
    console.log('\ncontrol ports (try `nc 127.0.0.1 PORT`, then e.g. `PUT k 5000 v`, `GET k`, `PEERS`):');
    for (const node of nodes) console.log(`  ${node.name}: ${node.controlPort}   (mesh ${node.meshPort})`);
    console.log('Ctrl-C stops the nodes and removes the PKI.');
    process.once('SIGINT', () => void shutdown().then(() => process.exit(0)));
  }
} catch (error) {
  await shutdown();
  throw error;
}
