/**
 * `tessera/node`: the reference federated fact node as a library: load its settings and start it.
 * Importing this entry loads the SQLite store (better-sqlite3, a native module); the other entries do not.
 */

export { buildNode, type StartNodeOptions, startNode, type TesseraNode } from './app/compose.ts';
export type { NodeContext } from './app/context.ts';
export type { NodeEventMap } from './app/events.ts';
export type { Feature } from './app/feature.ts';
export { ERROR_CATALOG, type ErrorCode, type ErrorSpec, NodeError } from './errors.ts';
export { FEDERATION_PROTO_PATH, FEDERATION_SERVICE } from './features/federation/grpc/proto.ts';
export type {
  FeedRequest,
  FeedSubscription,
  ManifestResponse,
  PeerAddress,
  PeerTransport,
} from './features/federation/peer-transport.ts';
export { loadConfig, type NodeConfig } from './settings/config.ts';
export { SETTINGS } from './settings/table.ts';
