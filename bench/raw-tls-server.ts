// The reference for the handshake benchmark: a bare node:tls server with the same TLS policy and material
// as a node's federation listener (TLS 1.3, client certificate required and verified), doing nothing else.
// Usage: tsx bench/raw-tls-server.ts CERT KEY CA   (prints its port on stdout)
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { createServer } from 'node:tls';
import { serverTlsOptions } from '../src/tls/policy.ts';

const [certPath, keyPath, caPath] = process.argv.slice(2) as [string, string, string];
const server = createServer(
  serverTlsOptions({
    certPem: readFileSync(certPath, 'utf8'),
    keyPem: readFileSync(keyPath, 'utf8'),
    caPem: readFileSync(caPath, 'utf8'),
  }),
  (socket) => socket.end(),
);
server.on('tlsClientError', () => {});
server.listen(0, '127.0.0.1', () => console.log((server.address() as AddressInfo).port));
process.on('SIGTERM', () => process.exit(0)); // a clean exit writes a --cpu-prof profile
