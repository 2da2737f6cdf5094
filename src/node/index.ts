/**
 * `tessera/node`: the reference federated fact node as a library: load its settings and start it.
 * Importing this entry loads the SQLite store (better-sqlite3, a native module); the other entries do not.
 */

export { loadConfig, type NodeConfig } from './settings/config.ts';
export { type StartNodeOptions, startNode, type TesseraNode } from './node.ts';
