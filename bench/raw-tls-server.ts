// The reference for the handshake benchmark: a bare node:tls server with the same TLS policy and material
// as a node's federation listener (TLS 1.3, client certificate required and verified), doing nothing else.
// Modes beside it:
// - `identify`: it also reads the client's leaf certificate (its DER) once the handshake is done, the least
//   any server that knows who its peer is must add, through Node's only public ways to get it;
// - `https-identify`: the same from a bare node:https server (the federation listener serves HTTP), which
//   sets up an HTTP parser and its timers on every connection.
// Usage: tsx bench/raw-tls-server.ts CERT KEY CA [identify|https-identify]   (prints its port on stdout)
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { createServer, type TLSSocket } from 'node:tls';
import { referenceTls } from './reference-args.ts';

const [certPath, keyPath, caPath, mode] = process.argv.slice(2) as [string, string, string, string?];
if (mode !== undefined && mode !== 'identify' && mode !== 'https-identify') {
  console.error(`raw-tls-server: unknown mode ${mode} (identify or https-identify)`);
  process.exit(2);
}
const options = referenceTls(certPath, keyPath, caPath);
const identify = (socket: TLSSocket) => socket.getPeerCertificate();
const server =
  mode === 'https-identify'
    ? createHttpsServer(options, (_request, response) => response.writeHead(404).end())
    : createServer(options, (socket) => {
        if (mode === 'identify') identify(socket);
        socket.end();
      });
if (mode === 'https-identify') server.prependListener('secureConnection', identify);
server.on('tlsClientError', () => {});
server.listen(0, '127.0.0.1', () => console.log((server.address() as AddressInfo).port));
process.on('SIGTERM', () => process.exit(0)); // a clean exit writes a --cpu-prof profile
