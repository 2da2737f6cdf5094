// gRPC peers for transport tests: a Tessera mTLS gRPC server running the echo service, and clients built
// with Tessera's channel credentials, each with its own metrics registry and recorded refusals.
import type { ChannelOptions } from '@grpc/grpc-js';
import type { Registry } from 'prom-client';
import type { Authorizer } from '../../src/tls/authorize.ts';
import type { Clock, Timers } from '../../src/tls/clock.ts';
import type { CredentialSource, CredentialSourceOptions } from '../../src/tls/credential-source.ts';
import type { Logger } from '../../src/tls/logger.ts';
import type { MaterialPaths } from '../../src/tls/material.ts';
import type { GrpcCallRejection } from '../../src/transport/grpc/call-authorizer.ts';
import {
  createMtlsChannelCredentials,
  type MtlsChannelCredentials,
} from '../../src/transport/grpc/channel-credentials.ts';
import { createMtlsGrpcServer, type MtlsGrpcServer } from '../../src/transport/grpc/server.ts';
import type { Rejection } from '../../src/transport/rejections.ts';
import { EchoClient, echoImplementation, echoService } from './grpc-echo.ts';
import { openStaticCredentials, silentLogger, testMetrics } from './tls-peers.ts';

/**
 * Channel options for tests that count refusals: a private subchannel pool (a connection of its own), no
 * retries and a long reconnect backoff, so one failed call is exactly one handshake. With grpc-js's
 * defaults a refused connection is tried again about a second later, even after the client is closed,
 * and that second refusal would land in the next test's count.
 */
export const ONE_CONNECTION_ATTEMPT: ChannelOptions = {
  'grpc.use_local_subchannel_pool': 1,
  'grpc.enable_retries': 0,
  'grpc.initial_reconnect_backoff_ms': 60_000,
  'grpc.max_reconnect_backoff_ms': 60_000,
};

export interface GrpcTestServer {
  server: MtlsGrpcServer;
  credentials: CredentialSource;
  echo: ReturnType<typeof echoImplementation>;
  port: number;
  registry: Registry;
  /** Connection-level refusals (PeerGate) and call-level refusals, in order. */
  rejections: Rejection[];
  callRejections: GrpcCallRejection[];
  close(): Promise<void>;
}

export async function startGrpcServer(
  paths: MaterialPaths & { crlPath?: string },
  authorize: Authorizer,
  callRules: Record<string, Authorizer> = {},
  options: {
    clock?: Clock;
    timers?: Timers;
    logger?: Logger;
    credentials?: Partial<Omit<CredentialSourceOptions, keyof MaterialPaths>>;
  } = {},
): Promise<GrpcTestServer> {
  const credentials = await openStaticCredentials(paths, options.credentials);
  const { registry, metrics } = testMetrics();
  const rejections: Rejection[] = [];
  const callRejections: GrpcCallRejection[] = [];
  const server = createMtlsGrpcServer({
    credentials,
    authorize,
    callRules,
    metrics,
    logger: options.logger ?? silentLogger,
    onCallRejected: (rejection) => callRejections.push(rejection),
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.timers ? { timers: options.timers } : {}),
  });
  server.peerGate.on('rejected', (rejection) => rejections.push(rejection));
  const echo = echoImplementation();
  server.grpc.addService(echoService, echo.handlers);
  const port = await server.listen();
  return {
    server,
    credentials,
    echo,
    port,
    registry,
    rejections,
    callRejections,
    async close() {
      echo.end();
      await server.close();
      credentials.close();
    },
  };
}

export interface GrpcTestClient {
  client: EchoClient;
  channelCredentials: MtlsChannelCredentials;
  credentials: CredentialSource;
  registry: Registry;
  rejections: Rejection[];
  close(): void;
}

/** A client of 127.0.0.1:port presenting `paths`, expecting the server to prove `expectedUri`. */
export async function grpcClient(
  port: number,
  paths: MaterialPaths & { crlPath?: string },
  expectedUri: string,
  options: { credentials?: CredentialSource; channel?: ChannelOptions; authorize?: Authorizer } = {},
): Promise<GrpcTestClient> {
  const credentials = options.credentials ?? (await openStaticCredentials(paths));
  const { registry, metrics } = testMetrics();
  const rejections: Rejection[] = [];
  const channelCredentials = createMtlsChannelCredentials({
    credentials,
    expectedUri,
    metrics,
    logger: silentLogger,
    onRejected: (rejection) => rejections.push(rejection),
    ...(options.authorize ? { authorize: options.authorize } : {}),
  });
  const client = new EchoClient(`127.0.0.1:${port}`, channelCredentials, {
    ...ONE_CONNECTION_ATTEMPT,
    ...options.channel,
  });
  return {
    client,
    channelCredentials,
    credentials,
    registry,
    rejections,
    close() {
      client.close();
      channelCredentials.close();
      if (!options.credentials) credentials.close();
    },
  };
}
