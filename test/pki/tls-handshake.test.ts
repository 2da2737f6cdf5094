// The certificates `pki dev` produces must work with Node's own TLS 1.3 stack (OpenSSL 3) under the
// project's policy: mutual authentication, TLS 1.3 only, our three suites, no system CAs.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { connect, createServer, type TLSSocket } from 'node:tls';
import { createDevPki } from '../../src/pki/dev.ts';
import { parseCertificate } from '../../src/tls/x509.ts';
import { tempDir } from '../support/pki.ts';

const CIPHERS = 'TLS_AES_256_GCM_SHA384:TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256';

for (const algo of ['ed25519', 'p256'] as const) {
  test(`${algo}: dev certificates complete a TLS 1.3 mutual handshake`, async (t) => {
    const out = await tempDir(t);
    await createDevPki({ out, nodes: ['server', 'client'], algo });
    const read = (file: string) => readFile(join(out, file));
    const ca = await read('ca.crt');
    const server = createServer({
      cert: await read('server.crt'),
      key: await read('server.key'),
      ca,
      requestCert: true,
      rejectUnauthorized: true,
      minVersion: 'TLSv1.3',
      ciphers: CIPHERS,
    });
    const serverSide = once(server, 'secureConnection') as Promise<[TLSSocket]>;
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    t.after(() => server.close());
    const client = connect({
      host: '127.0.0.1',
      port: (server.address() as AddressInfo).port,
      servername: 'localhost',
      cert: await read('client.crt'),
      key: await read('client.key'),
      ca,
      minVersion: 'TLSv1.3',
      ciphers: CIPHERS,
    });
    await once(client, 'secureConnect');
    const [socket] = await serverSide;
    assert.equal(client.authorized, true, String(client.authorizationError));
    assert.equal(client.getProtocol(), 'TLSv1.3');
    assert.equal(socket.authorized, true);
    assert.deepEqual(parseCertificate(socket.getPeerX509Certificate()!.raw).uris, [
      'spiffe://example.org/node/client',
    ]);
    assert.deepEqual(parseCertificate(client.getPeerX509Certificate()!.raw).uris, [
      'spiffe://example.org/node/server',
    ]);
    client.end();
    socket.end();
  });
}
