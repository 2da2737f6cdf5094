// The node's local control interface: a line protocol on a loopback TCP port (try `nc 127.0.0.1 PORT`).
//   PUT <key> <ttl-ms> <value…>   → OK            (ttl 0: no expiry; the value is the rest of the line)
//   GET <key>                     → VALUE <value> | MISS
//   DEL <key>                     → OK
//   PURGE <prefix>                → PURGED <n>
//   PEER <name> <host>:<port>     → OK            (replicate to this node from now on)
//   PEERS                         → PEERS <name>=up|down …
// Anything else → ERR <why>. Lines are bounded; a longer one closes the connection.
import { createServer, type Server, type Socket } from 'node:net';
import type { MeshNode } from './mesh.ts';
import { MAX_KEY_LENGTH, MAX_VALUE_LENGTH } from './messages.ts';

const MAX_LINE = MAX_VALUE_LENGTH + MAX_KEY_LENGTH + 64;

export function startControl(node: MeshNode, port = 0): Promise<{ server: Server; port: number }> {
  const server = createServer((socket) => serve(node, socket));
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    // Loopback only: whoever can reach this port controls the node.
    server.listen(port, '127.0.0.1', () => {
      const address = server.address();
      resolve({ server, port: typeof address === 'object' && address ? address.port : port });
    });
  });
}

function serve(node: MeshNode, socket: Socket): void {
  socket.setEncoding('utf8');
  socket.on('error', () => {});
  let buffered = '';
  let queue = Promise.resolve();
  socket.on('data', (chunk: string) => {
    buffered += chunk;
    if (buffered.length > MAX_LINE && !buffered.includes('\n')) {
      socket.end('ERR line too long\n');
      return;
    }
    const lines = buffered.split('\n');
    buffered = lines.pop() ?? '';
    for (const line of lines) {
      // One command at a time per connection, answers in order.
      queue = queue.then(async () => {
        const answer = await run(node, line.replace(/\r$/, '')).catch(
          (error: Error) => `ERR ${error.message}`,
        );
        if (!socket.destroyed) socket.write(`${answer}\n`);
      });
    }
  });
}

async function run(node: MeshNode, line: string): Promise<string> {
  const [command = '', ...args] = line.split(' ');
  const key = args[0] ?? '';
  const keyOk = key.length > 0 && key.length <= MAX_KEY_LENGTH;
  switch (command.toUpperCase()) {
    case 'PUT': {
      const ttl = Number(args[1]);
      if (!keyOk || !Number.isSafeInteger(ttl) || ttl < 0) return 'ERR usage: PUT <key> <ttl-ms> <value>';
      await node.put(key, args.slice(2).join(' '), ttl);
      return 'OK';
    }
    case 'GET': {
      if (!keyOk) return 'ERR usage: GET <key>';
      const value = node.get(key);
      return value === undefined ? 'MISS' : `VALUE ${value}`;
    }
    case 'DEL':
      if (!keyOk) return 'ERR usage: DEL <key>';
      await node.delete(key);
      return 'OK';
    case 'PURGE':
      if (!keyOk) return 'ERR usage: PURGE <prefix>';
      return `PURGED ${await node.purge(key)}`;
    case 'PEER': {
      const match = /^(.+):(\d+)$/.exec(args[1] ?? '');
      if (!keyOk || !match) return 'ERR usage: PEER <name> <host>:<port>';
      node.addPeer({ name: key, host: match[1]!, port: Number(match[2]) });
      return 'OK';
    }
    case 'PEERS':
      return `PEERS ${Object.entries(node.peers())
        .map(([name, up]) => `${name}=${up ? 'up' : 'down'}`)
        .join(' ')}`.trimEnd();
    default:
      return 'ERR unknown command (PUT, GET, DEL, PURGE, PEER, PEERS)';
  }
}
