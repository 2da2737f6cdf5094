// The federation service definition, loaded from the .proto file the package ships (assets/, copied to
// dist/ by scripts/copy-assets.mjs) with @grpc/proto-loader: one definition for the server and the client.
import { fileURLToPath } from 'node:url';
import { loadPackageDefinition, type ServiceClientConstructor, type ServiceDefinition } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';

/** The path of the shipped `federation.proto` (`tessera.federation.v1`), for generating other clients. */
export const FEDERATION_PROTO_PATH = fileURLToPath(new URL('./assets/federation.proto', import.meta.url));

/** The federation service's full name in that proto. */
export const FEDERATION_SERVICE = 'tessera.federation.v1.Federation';

export interface SubscribeRequestMessage {
  cursor: string;
  limit: number;
}

export interface FeedPageMessage {
  facts: Buffer[];
  cursor: string;
  more: boolean;
  remaining: number;
  heartbeat: boolean;
}

// A memo of an immutable definition (parsing the .proto once per process), not node state.
let loaded: ServiceClientConstructor | undefined;

/** The generated client constructor; its `.service` is the server's ServiceDefinition. */
export function federationClientConstructor(): ServiceClientConstructor {
  if (loaded) return loaded;
  const definition = loadSync(FEDERATION_PROTO_PATH, {
    keepCase: true,
    longs: Number,
    enums: String,
    // Absent proto3 fields read as their defaults ('' / 0 / false / []), never undefined.
    defaults: true,
    arrays: true,
  });
  const pkg = loadPackageDefinition(definition) as unknown as {
    tessera: { federation: { v1: { Federation: ServiceClientConstructor } } };
  };
  loaded = pkg.tessera.federation.v1.Federation;
  return loaded;
}

export function federationServiceDefinition(): ServiceDefinition {
  return federationClientConstructor().service;
}
