// The shared bad-TLS matrix (test/support/bad-tls-matrix.ts) against the HTTPS adapter: the fastify server
// behind the peer gate, and the undici client with its identity check.
import { readFile } from 'node:fs/promises';
import { request } from 'undici';
import { exactUri } from '../../../src/tls/authorize.ts';
import { PeerRejectedError } from '../../../src/tls/errors.ts';
import { createMtlsAgent } from '../../../src/transport/http-client.ts';
import { clientMatrix, serverMatrix } from '../../support/bad-tls-matrix.ts';
import { until } from '../../support/reload.ts';
import {
  openStaticCredentials,
  rawTlsAttempt,
  silentLogger,
  startTestServer,
} from '../../support/tls-peers.ts';

serverMatrix({
  name: 'HTTPS server (fastify behind the peer gate)',
  async start(material, clientUri) {
    const server = await startTestServer(material, exactUri(clientUri));
    const ca = await readFile(material.caPath, 'utf8');
    return {
      async attempt(client, tls) {
        const seen = server.rejections.length;
        const outcome = await rawTlsAttempt(server.port, {
          ca,
          ...(client ? { cert: client.certPem, key: client.keyPem } : {}),
          send: 'GET /whoami HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n',
          ...tls,
        });
        if (/^HTTP\/1\.1 200 /.test(outcome.received))
          return { admitted: true, reason: server.rejections[seen]?.reason ?? null };
        // The gate records the refusal as it closes the connection; wait for it rather than race it.
        await until('the server to record its refusal', () => server.rejections.length > seen);
        return { admitted: false, reason: server.rejections[seen]?.reason ?? null };
      },
      close: () => server.close(),
    };
  },
});

clientMatrix({
  name: 'HTTPS client (undici agent)',
  async attempt(port, material, serverUri) {
    const credentials = await openStaticCredentials(material);
    const origin = `https://127.0.0.1:${port}`;
    const reported: string[] = [];
    const agent = createMtlsAgent({
      credentials,
      expectedIdentity: { [origin]: serverUri },
      logger: silentLogger,
      onRejected: (rejection) => reported.push(rejection.reason),
    });
    try {
      await request(`${origin}/`, { dispatcher: agent, method: 'POST', body: 'secret payload' });
      return { connected: true, reason: null };
    } catch (error) {
      const reason = error instanceof PeerRejectedError ? error.reason : (reported[0] ?? String(error));
      return { connected: false, reason };
    } finally {
      await agent.close();
      credentials.close();
    }
  },
});
