// Every port's operations over one Sql (the pool, or one transaction's client), and the async StoreOps
// over them: store.ts decides where each call runs.
import type { StoreOps } from '../store.ts';
import { bindApiKeyStore, PgApiKeys } from './api-keys.ts';
import { bindAuditStore, PgAudit } from './audit.ts';
import { bindCapabilityStore, PgCapabilities } from './capabilities.ts';
import { bindFactLogStore, PgFactLog } from './fact-log.ts';
import { bindFactStore, PgFacts } from './facts.ts';
import { bindMetaStore, PgMeta } from './meta.ts';
import { bindPeerKeyStore, PgPeerKeys } from './peer-keys.ts';
import { bindPeerStore, PgPeers } from './peers.ts';
import { bindReplayStore, PgReplay } from './replay.ts';
import type { Run, Sql } from './sql.ts';

/** Every port's operations over one Sql. */
export class PgOps {
  readonly facts: PgFacts;
  readonly factLog: PgFactLog;
  readonly peers: PgPeers;
  readonly peerKeys: PgPeerKeys;
  readonly apiKeys: PgApiKeys;
  readonly audit: PgAudit;
  readonly capabilities: PgCapabilities;
  readonly replay: PgReplay;
  readonly meta: PgMeta;

  constructor(db: Sql, now: () => Date) {
    this.facts = new PgFacts(db);
    this.factLog = new PgFactLog(db);
    this.peers = new PgPeers(db, now);
    this.peerKeys = new PgPeerKeys(db);
    this.apiKeys = new PgApiKeys(db);
    this.audit = new PgAudit(db);
    this.capabilities = new PgCapabilities(db);
    this.replay = new PgReplay(db);
    this.meta = new PgMeta(db);
  }
}

/** The runner of one port: the same routing, narrowed to that port's operations. */
function port<K extends keyof PgOps>(run: Run<PgOps>, key: K): Run<PgOps[K]> {
  return (access, call) => run(access, (ops) => call(ops[key]));
}

/** The StoreOps whose every call goes through `run` (store.ts picks the pool or a transaction's client). */
export function bindStoreOps(run: Run<PgOps>): StoreOps {
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
