// Every port's operations on one SQLite connection (statements prepared once per connection), and the
// async StoreOps over them: store.ts decides which connection runs each call.
import type Database from 'better-sqlite3';
import type { StoreOps } from '../store.ts';
import { bindApiKeyStore, SqliteApiKeys } from './api-keys.ts';
import { bindAuditStore, SqliteAudit } from './audit.ts';
import { bindCapabilityStore, SqliteCapabilities } from './capabilities.ts';
import { bindFactLogStore, SqliteFactLog } from './fact-log.ts';
import { bindFactStore, SqliteFacts } from './facts.ts';
import { bindMetaStore, SqliteMeta } from './meta.ts';
import { bindPeerKeyStore, SqlitePeerKeys } from './peer-keys.ts';
import { bindPeerStore, SqlitePeers } from './peers.ts';
import { bindReplayStore, SqliteReplay } from './replay.ts';
import type { Run } from './sql.ts';

export class SqliteOps {
  readonly facts: SqliteFacts;
  readonly factLog: SqliteFactLog;
  readonly peers: SqlitePeers;
  readonly peerKeys: SqlitePeerKeys;
  readonly apiKeys: SqliteApiKeys;
  readonly audit: SqliteAudit;
  readonly capabilities: SqliteCapabilities;
  readonly replay: SqliteReplay;
  readonly meta: SqliteMeta;

  constructor(db: Database.Database, now: () => Date) {
    this.facts = new SqliteFacts(db);
    this.factLog = new SqliteFactLog(db);
    this.peers = new SqlitePeers(db, now);
    this.peerKeys = new SqlitePeerKeys(db);
    this.apiKeys = new SqliteApiKeys(db);
    this.audit = new SqliteAudit(db);
    this.capabilities = new SqliteCapabilities(db);
    this.replay = new SqliteReplay(db);
    this.meta = new SqliteMeta(db);
  }
}

/** The runner of one port: the same connection choice, narrowed to that port's operations. */
function port<K extends keyof SqliteOps>(run: Run<SqliteOps>, key: K): Run<SqliteOps[K]> {
  return (access, call) => run(access, (ops) => call(ops[key]));
}

export function bindStoreOps(run: Run<SqliteOps>): StoreOps {
  return {
    ...bindFactStore(port(run, 'facts')),
    ...bindFactLogStore(port(run, 'factLog')),
    ...bindPeerStore(port(run, 'peers')),
    ...bindPeerKeyStore(port(run, 'peerKeys')),
    ...bindApiKeyStore(port(run, 'apiKeys')),
    ...bindAuditStore(port(run, 'audit')),
    ...bindCapabilityStore(port(run, 'capabilities')),
    ...bindReplayStore(port(run, 'replay')),
    ...bindMetaStore(port(run, 'meta')),
  };
}
