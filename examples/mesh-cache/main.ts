// One mesh cache node as a process. Prints JSON lines on stdout: {"event":"ready",…} once both ports
// listen, then peer and replication events. Stops on SIGINT / SIGTERM.
//
//   tsx examples/mesh-cache/main.ts --name a --cert a.crt --key a.key --ca ca.crt \
//     [--trust-domain example.org] [--mesh-port 0] [--control-port 0] [--peer b=127.0.0.1:7402 …]
import { parseArgs } from 'node:util';
import { CredentialSource, type Logger } from '../../src/tls/index.ts';
import { startControl } from './control.ts';
import { MeshNode, nodeUri } from './mesh.ts';

const { values } = parseArgs({
  options: {
    name: { type: 'string' },
    cert: { type: 'string' },
    key: { type: 'string' },
    ca: { type: 'string' },
    'trust-domain': { type: 'string', default: 'example.org' },
    'mesh-port': { type: 'string', default: '0' },
    'control-port': { type: 'string', default: '0' },
    peer: { type: 'string', multiple: true, default: [] },
  },
});
const { name, cert, key, ca } = values;
if (!name || !cert || !key || !ca) {
  console.error('usage: main.ts --name N --cert FILE --key FILE --ca FILE [--peer NAME=HOST:PORT …]');
  process.exit(2);
}
const trustDomain = values['trust-domain'];
const log = (event: Record<string, unknown>) =>
  process.stdout.write(`${JSON.stringify({ node: name, ...event })}\n`);

// Tessera's own log lines (refusals, reloads) join the same stream; debug lines are dropped.
const logger: Logger = {
  debug() {},
  info: (fields, msg) => log({ event: 'tessera', level: 'info', msg, ...fields }),
  warn: (fields, msg) => log({ event: 'tessera', level: 'warn', msg, ...fields }),
  error: (fields, msg) => log({ event: 'tessera', level: 'error', msg, ...fields }),
};

// The certificate must carry this node's SPIFFE ID; its files are watched (and SIGHUP reloads them).
const credentials = await CredentialSource.open({
  certPath: cert,
  keyPath: key,
  caPath: ca,
  entityUri: nodeUri(trustDomain, name),
  logger,
});
const node = new MeshNode({ name, trustDomain, credentials, log, logger });
const meshPort = await node.listen(Number(values['mesh-port']));
const control = await startControl(node, Number(values['control-port']));
for (const spec of values.peer) {
  const match = /^([^=]+)=(.+):(\d+)$/.exec(spec);
  if (!match) throw new Error(`--peer ${spec}: expected NAME=HOST:PORT`);
  node.addPeer({ name: match[1]!, host: match[2]!, port: Number(match[3]) });
}
log({ event: 'ready', uri: nodeUri(trustDomain, name), meshPort, controlPort: control.port });

const stop = async () => {
  control.server.close();
  await node.close();
  credentials.close();
  process.exit(0);
};
process.once('SIGINT', () => void stop());
process.once('SIGTERM', () => void stop());
