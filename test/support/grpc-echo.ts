// A tiny gRPC service for transport tests, defined without .proto files (JSON messages): a unary `WhoAmI`
// that answers with what the server saw of the caller, a server-streaming `Tick` that sends one message per
// `push()` from the test (so a stream stays open across a certificate rotation), and a unary `Admin` for
// per-method rules.
import {
  type Client,
  type ClientReadableStream,
  type handleServerStreamingCall,
  type handleUnaryCall,
  makeGenericClientConstructor,
  type ServerWritableStream,
  type ServiceDefinition,
} from '@grpc/grpc-js';
import { grpcPeer } from '../../src/transport/grpc/peer.ts';

export interface Whoami {
  uris: string[];
  fingerprint256: string | null;
}
export interface Tick {
  n: number;
  peer: string | null;
}

const json = {
  requestSerialize: (value: unknown) => Buffer.from(JSON.stringify(value)),
  requestDeserialize: (buffer: Buffer) => JSON.parse(buffer.toString()) as unknown,
  responseSerialize: (value: unknown) => Buffer.from(JSON.stringify(value)),
  responseDeserialize: (buffer: Buffer) => JSON.parse(buffer.toString()) as unknown,
};

export const ECHO_SERVICE = 'tessera.test.Echo';

export const echoService: ServiceDefinition = {
  WhoAmI: { path: `/${ECHO_SERVICE}/WhoAmI`, requestStream: false, responseStream: false, ...json },
  Admin: { path: `/${ECHO_SERVICE}/Admin`, requestStream: false, responseStream: false, ...json },
  Tick: { path: `/${ECHO_SERVICE}/Tick`, requestStream: false, responseStream: true, ...json },
};

/** The server side: handlers plus a `push()` that sends the next tick on every open Tick stream. */
export function echoImplementation() {
  const streams = new Set<ServerWritableStream<unknown, Tick>>();
  let n = 0;
  const seen = { calls: 0 };
  const whoami: handleUnaryCall<unknown, Whoami> = (call, callback) => {
    seen.calls++;
    const peer = grpcPeer(call);
    callback(null, { uris: peer?.uris ?? [], fingerprint256: peer?.fingerprint256 ?? null });
  };
  const tick: handleServerStreamingCall<unknown, Tick> = (call) => {
    seen.calls++;
    streams.add(call);
    call.on('cancelled', () => streams.delete(call));
    call.write({ n: n++, peer: grpcPeer(call)?.fingerprint256 ?? null });
  };
  return {
    handlers: { WhoAmI: whoami, Admin: whoami, Tick: tick },
    streams,
    /** Calls that reached a handler. */
    get calls() {
      return seen.calls;
    },
    push(): void {
      for (const call of streams) call.write({ n: n++, peer: grpcPeer(call)?.fingerprint256 ?? null });
    },
    end(): void {
      for (const call of streams) call.end();
      streams.clear();
    },
  };
}

export type EchoClient = Client & {
  WhoAmI(request: object, callback: (error: Error | null, response?: Whoami) => void): unknown;
  Admin(request: object, callback: (error: Error | null, response?: Whoami) => void): unknown;
  Tick(request: object): ClientReadableStream<Tick>;
};

export const EchoClient = makeGenericClientConstructor(echoService, ECHO_SERVICE) as unknown as new (
  ...args: ConstructorParameters<ReturnType<typeof makeGenericClientConstructor>>
) => EchoClient;

/** One unary call as a promise. */
export function call(client: EchoClient, method: 'WhoAmI' | 'Admin'): Promise<Whoami> {
  return new Promise((resolve, reject) => {
    client[method]({}, (error, response) => (error ? reject(error) : resolve(response as Whoami)));
  });
}
