// Before new material replaces the old, it must complete a real mutual TLS 1.3 handshake with itself on
// loopback: this catches anything OpenSSL would refuse that the static checks of rule 1 did not.

import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { connect, createServer, type Server, type TLSSocket } from 'node:tls';
import { TlsError } from './errors.ts';
import type { TlsRole } from './material.ts';
import { clientTlsOptions, type PemMaterial, serverTlsOptions } from './policy.ts';

/**
 * `roles` (default both): material meant only for one side is exercised only on that side, so a leaf
 * whose EKU lists serverAuth alone is not refused for lacking clientAuth (and the other way round).
 */
export async function selfHandshake(
  material: PemMaterial & { leaf: { fingerprint256: string } },
  timeoutMs = 10_000,
  roles: readonly TlsRole[] = ['server', 'client'],
): Promise<void> {
  const asClient = roles.includes('client');
  const asServer = roles.includes('server');
  const fail = (reason: string) =>
    new TlsError('TLS_SELF_HANDSHAKE_FAILED', `new material failed a loopback handshake: ${reason}`);
  let server: Server;
  try {
    server = createServer({ ...serverTlsOptions(material), requestCert: asClient });
  } catch (error) {
    throw fail((error as Error).message.split('\n')[0] ?? 'secure context rejected');
  }
  const serverSide = new Promise<void>((resolve, reject) => {
    server.once('secureConnection', (socket: TLSSocket) => {
      socket.authorized || !asClient
        ? resolve()
        : reject(fail(`server did not accept the client certificate (${socket.authorizationError})`));
      socket.end();
    });
    server.once('tlsClientError', (error: Error, socket: TLSSocket) =>
      reject(
        fail(
          `server side: ${socket.authorizationError ?? (error as NodeJS.ErrnoException).code ?? error.message}`,
        ),
      ),
    );
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  let client: TLSSocket | undefined;
  const clientSide = new Promise<void>((resolve, reject) => {
    const socket = connect({
      ...clientTlsOptions(material),
      host: '127.0.0.1',
      port,
      // A client-only leaf cannot pass OpenSSL's server-purpose check; the fingerprint below still binds it.
      rejectUnauthorized: asServer,
      checkServerIdentity: (_host, cert) =>
        cert.fingerprint256.replaceAll(':', '').toLowerCase() === material.leaf.fingerprint256
          ? undefined
          : fail('server presented a different certificate'),
    });
    socket.once('secureConnect', () => resolve());
    socket.once('error', (error: NodeJS.ErrnoException) =>
      reject(fail(`client side: ${error.code ?? error.message}`)),
    );
    socket.resume();
    client = socket;
  });
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(fail(`timed out after ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    await Promise.race([Promise.all([serverSide, clientSide]), timeout]);
  } finally {
    clearTimeout(timer);
    client?.destroy();
    server.close();
  }
}
