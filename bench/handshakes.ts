// Benchmark section `handshakes`: new mutual-TLS 1.3 handshakes (Ed25519, no session resumption) per CPU-
// second of the server, a node's federation listener (`tessera serve`) beside a bare node:tls server with
// the same policy and certificate (bench/raw-tls-server.ts). Each server is its own process, so its CPU
// time is its own; rounds alternate between the two and the medians are reported.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { startNodeProcess } from '../test/support/node-process.ts';
import { type TestCa, writeMaterial } from '../test/support/pki.ts';
import { cpuMeter, processCpuSeconds } from './cpu.ts';

interface Material {
  certPath: string;
  keyPath: string;
  caPath: string;
}

/** `count` handshakes, `concurrency` at a time, each on a new connection closed once it is up. */
async function handshakes(port: number, client: { cert: string; key: string; ca: string }, count: number) {
  let next = 0;
  const concurrency = 8;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        next++;
        const socket = connect({ host: '127.0.0.1', port, ...client, checkServerIdentity: () => undefined });
        socket.on('secureConnect', () => socket.end());
        socket.on('error', () => {});
        await once(socket, 'close');
      }
    }),
  );
}

async function rawServer(material: Material): Promise<{ port: number; pid: number; stop(): void }> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'bench/raw-tls-server.ts', material.certPath, material.keyPath, material.caPath],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const [chunk] = (await once(child.stdout, 'data')) as [Buffer];
  return { port: Number(chunk.toString().trim()), pid: child.pid as number, stop: () => child.kill() };
}

/** Handshakes per server CPU-second: one round on a server process. */
async function round(
  port: number,
  pid: number,
  client: { cert: string; key: string; ca: string },
  count: number,
) {
  await handshakes(port, client, 50); // warm-up (JIT, caches)
  const cpu = cpuMeter(() => processCpuSeconds(pid));
  await handshakes(port, client, count);
  await new Promise((resolve) => setTimeout(resolve, 200)); // the server finishes its side of the last ones
  return count / cpu.stop();
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? NaN;

export async function handshakeFigures(
  ca: TestCa,
  root: string,
  count: number,
  rounds = 3,
): Promise<string[]> {
  const node = await startNodeProcess({ name: 'hs-node', ca, root });
  const raw = await rawServer(node.tls);
  await mkdir(join(root, 'hs-client'), { recursive: true });
  const clientMaterial = await writeMaterial(
    join(root, 'hs-client'),
    'client',
    await ca.issue('hs-client'),
    ca.certPem,
  );
  const client = {
    cert: await readFile(clientMaterial.certPath, 'utf8'),
    key: await readFile(clientMaterial.keyPath, 'utf8'),
    ca: ca.certPem,
  };
  const federationPort = Number(new URL(node.federationUrl).port);
  try {
    const rawRates: number[] = [];
    const nodeRates: number[] = [];
    for (let i = 0; i < rounds; i++) {
      rawRates.push(await round(raw.port, raw.pid, client, count));
      nodeRates.push(await round(federationPort, node.proc.child.pid as number, client, count));
    }
    const [r, n] = [median(rawRates), median(nodeRates)];
    return [
      `new mTLS 1.3 handshakes (Ed25519, no resumption, 8 concurrent, ${count} per round, median of ${rounds}):`,
      `  raw node:tls server        ${r.toFixed(0).padStart(6)} per server CPU-s`,
      `  federation listener        ${n.toFixed(0).padStart(6)} per server CPU-s`,
      `  federation / raw:          ${(n / r).toFixed(2)}`,
    ];
  } finally {
    raw.stop();
    await node.stop();
  }
}
