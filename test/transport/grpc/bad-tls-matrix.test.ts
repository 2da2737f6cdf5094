// The shared bad-TLS matrix (test/support/bad-tls-matrix.ts) against the gRPC adapter: the Tessera gRPC
// server (own TLS listener + peer gate + grpc-js) where one attempt is one unary call, and the gRPC client
// (Tessera channel credentials) pointed at each bad server.

import { readFile } from 'node:fs/promises';
import { createSecureContext } from 'node:tls';
import { ChannelCredentials } from '@grpc/grpc-js';
import { exactUri } from '../../../src/tls/authorize.ts';
import { clientMatrix, serverMatrix } from '../../support/bad-tls-matrix.ts';
import { call, EchoClient } from '../../support/grpc-echo.ts';
import { grpcClient, ONE_CONNECTION_ATTEMPT, startGrpcServer } from '../../support/grpc-peers.ts';
import { until } from '../../support/reload.ts';

serverMatrix({
  name: 'gRPC server (Tessera TLS listener + peer gate + grpc-js)',
  async start(material, clientUri) {
    const server = await startGrpcServer(material, exactUri(clientUri));
    const ca = await readFile(material.caPath, 'utf8');
    const refusals = () => [...server.rejections, ...server.callRejections];
    return {
      async attempt(client, tls) {
        const seen = refusals().length;
        // grpc-js's plain TLS credentials on a context carrying the case's overrides (versions, suites);
        // the server identity check is off: only the server's decision is under test here.
        const context = createSecureContext({
          ca,
          ...(client ? { cert: client.certPem, key: client.keyPem } : {}),
          minVersion: 'TLSv1.2',
          ...tls,
        });
        const credentials = ChannelCredentials.createFromSecureContext(context, {
          checkServerIdentity: () => undefined,
        });
        const channel = new EchoClient(`127.0.0.1:${server.port}`, credentials, ONE_CONNECTION_ATTEMPT);
        try {
          await call(channel, 'WhoAmI');
          return { admitted: true, reason: refusals()[seen]?.reason ?? null };
        } catch {
          await until('the server to record its refusal', () => refusals().length > seen);
          return { admitted: false, reason: refusals()[seen]?.reason ?? null };
        } finally {
          channel.close();
        }
      },
      close: () => server.close(),
    };
  },
});

clientMatrix({
  name: 'gRPC client (Tessera channel credentials)',
  async attempt(port, material, serverUri) {
    const client = await grpcClient(port, material, serverUri);
    try {
      await call(client.client, 'WhoAmI');
      return { connected: true, reason: null };
    } catch (error) {
      return { connected: false, reason: client.rejections[0]?.reason ?? String(error) };
    } finally {
      client.close();
    }
  },
});
