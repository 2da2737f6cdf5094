// The reference for the handshake benchmark: a bare node:tls server with the same TLS policy and material
// as a node's federation listener (TLS 1.3, client certificate required and verified), doing nothing else.
// With `identify`, it also reads the client's leaf certificate (its DER) once the handshake is done: the
// least any server that knows who its peer is must add, through Node's only public ways to get it.
// Usage: tsx bench/raw-tls-server.ts CERT KEY CA [identify]   (prints its port on stdout)
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { createServer } from 'node:tls';
import { serverTlsOptions } from '../src/tls/policy.ts';

const [certPath, keyPath, caPath, mode] = process.argv.slice(2) as [string, string, string, string?];
const identify = mode === 'identify';
let identified = 0;
const server = createServer(
  serverTlsOptions({
    certPem: readFileSync(certPath, 'utf8'),
    keyPem: readFileSync(keyPath, 'utf8'),
    caPem: readFileSync(caPath, 'utf8'),
  }),
  (socket) => {
    if (identify && socket.getPeerCertificate().raw !== undefined) identified++;
    socket.end();
  },
);
server.on('tlsClientError', () => {});
server.listen(0, '127.0.0.1', () => console.log((server.address() as AddressInfo).port));
// A clean exit writes a --cpu-prof profile; the count keeps the read from being optimised away.
process.on('SIGTERM', () => process.exit(identified >= 0 ? 0 : 1));
