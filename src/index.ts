/**
 * `tessera`: the library in one import: the TLS identity core (`tessera/tls`) and its transport adapters
 * (`tessera/transport`). Certificate issuance lives at `tessera/pki` and the reference node at
 * `tessera/node`, so importing this entry never loads the PKI builder or the node's SQLite store.
 */
export * from './tls/index.ts';
export * from './transport/index.ts';
