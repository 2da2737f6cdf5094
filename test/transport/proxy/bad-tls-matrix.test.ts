// The shared bad-TLS matrix (test/support/bad-tls-matrix.ts) against proxy-forwarded identity: the client
// completes a real TLS 1.3 handshake with an in-test terminating proxy that asks for a certificate but
// accepts any (the worst proxy: it judges nothing), which forwards the certificate it saw as
// X-Forwarded-Client-Cert to a fastify server behind the forwarded-identity hook, from a trusted address.
// Every judgement is then the server's: the same reasons as a direct mTLS connection. TLS version and
// cipher cases are the proxy's handshake, not the server's: not applicable. CRLs are the server's (trustCheck).
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import Fastify from 'fastify';
import { exactUri } from '../../../src/tls/authorize.ts';
import { checkPeerTrust } from '../../../src/tls/revocation.ts';
import { installForwardedIdentity } from '../../../src/transport/proxy/forwarded-identity.ts';
import { TrustedProxies } from '../../../src/transport/proxy/trusted-proxies.ts';
import type { Rejection } from '../../../src/transport/rejections.ts';
import { serverMatrix } from '../../support/bad-tls-matrix.ts';
import { openStaticCredentials, rawTlsAttempt, silentLogger } from '../../support/tls-peers.ts';

serverMatrix({
  name: 'proxy-forwarded identity (X-Forwarded-Client-Cert from a trusted proxy)',
  notApplicable: {
    protocol_version: "the TLS version is negotiated with the proxy, not the server (the proxy's policy)",
    no_shared_cipher: "the cipher suite is negotiated with the proxy, not the server (the proxy's policy)",
  },
  async start(material, clientUri) {
    // The server's credentials as the node holds them: the CA bundle and any CRLs of the case.
    const caPem = await readFile(material.caPath, 'utf8');
    const credentials = await openStaticCredentials(material);
    const rejections: Rejection[] = [];
    const app = Fastify();
    app.decorateRequest('peer', null);
    installForwardedIdentity(app, {
      proxies: new TrustedProxies({ proxies: ['127.0.0.1'], header: 'xfcc' }),
      cas: () => credentials.material.cas,
      trustCheck: (identity, now) => checkPeerTrust(identity, credentials.material, now),
      authorize: exactUri(clientUri),
      requireCertificate: true,
      logger: silentLogger,
      onRejected: (rejection) => rejections.push(rejection),
    });
    app.get('/whoami', async (request) => ({ uris: request.peer?.uris ?? null }));
    await app.listen({ host: '127.0.0.1', port: 0 });
    const upstream = (app.server.address() as AddressInfo).port;

    // The terminating proxy: TLS 1.3 with the server's certificate, asks for a client certificate, accepts any.
    const proxy = createHttpsServer(
      {
        cert: await readFile(material.certPath),
        key: await readFile(material.keyPath),
        requestCert: true,
        rejectUnauthorized: false,
        minVersion: 'TLSv1.3',
      },
      (req, res) => {
        const raw = (req.socket as TLSSocket).getPeerX509Certificate()?.raw;
        const headers: Record<string, string> = {};
        if (raw) {
          const pem = `-----BEGIN CERTIFICATE-----\n${raw.toString('base64')}\n-----END CERTIFICATE-----\n`;
          headers['x-forwarded-client-cert'] = `Cert="${encodeURIComponent(pem)}"`;
        }
        const forward = httpRequest(
          { host: '127.0.0.1', port: upstream, path: req.url, method: req.method, headers },
          (answer) => {
            res.writeHead(answer.statusCode ?? 502, answer.headers);
            answer.pipe(res);
          },
        );
        forward.on('error', () => res.destroy());
        forward.end();
      },
    );
    proxy.listen(0, '127.0.0.1');
    await once(proxy, 'listening');
    const port = (proxy.address() as AddressInfo).port;

    return {
      async attempt(client, tls) {
        const seen = rejections.length;
        const outcome = await rawTlsAttempt(port, {
          ca: caPem,
          ...(client ? { cert: client.certPem, key: client.keyPem } : {}),
          send: 'GET /whoami HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n',
          ...tls,
        });
        const admitted = /^HTTP\/1\.1 200 /.test(outcome.received);
        return { admitted, reason: rejections[seen]?.reason ?? null };
      },
      async close() {
        proxy.close();
        await app.close();
        credentials.close();
      },
    };
  },
});
