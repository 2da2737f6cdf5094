// The node's signing keys: the node key (tokens, manifests) and the issuer key (capabilities), each in a
// KeyRing: kept in the data dir (rotated by `tessera identity rotate-key`, picked up without a restart) or
// given as a secret (TESSERA_NODE_PRIVATE_KEY / TESSERA_ISSUER_PRIVATE_KEY: rotate-key logs the rotation
// and prints the new seed; the node uses it after the secret is replaced and the node restarted). A node
// key given as a file (TESSERA_NODE_KEY_PATH) is fixed.
import type { KeyObject } from 'node:crypto';
import type { Logger } from 'pino';
import type { Clock } from '../../../tls/clock.ts';
import type { NodeConfig } from '../../settings/config.ts';
import type { KeyKind } from '../rotation/key-files.ts';
import type { KeyStanding } from '../rotation/key-history.ts';
import { KeyRing } from '../rotation/key-ring.ts';
import { loadOrCreateNodeKey, type NodeKey } from './node-key.ts';

export interface NodeKeys {
  /** The key to sign tokens and manifests with now. */
  nodeKey(): NodeKey;
  /** The node key's ring; null when the key is given by TESSERA_NODE_KEY_PATH. */
  nodeRing: KeyRing | null;
  /** The issuer key's ring (from the data dir or TESSERA_ISSUER_PRIVATE_KEY). */
  issuerRing: IssuerKeys;
  /** Every ring, for watching and for the manifest's rotation events. */
  rings: KeyRing[];
}

/** What capabilities need of the issuer key: sign with the current one, verify with any still trusted. */
export interface IssuerKeys {
  current(): NodeKey;
  verificationKeys(now?: Date): KeyObject[];
}

/** The variables a secret key may come from, for messages (never their values). */
export const SECRET_NAMES: Record<KeyKind, string> = {
  node: 'TESSERA_NODE_PRIVATE_KEY (or STIGMEM_NODE_PRIVATE_KEY)',
  issuer: 'TESSERA_ISSUER_PRIVATE_KEY (or STIGMEM_ISSUER_PRIVATE_KEY)',
};

/** A node key given by env or file, checked before the data dir exists; undefined when none is given. */
export async function loadGivenNodeKey(config: NodeConfig): Promise<NodeKey | undefined> {
  if (!config.nodePrivateKey && !config.nodeKeyPath) return undefined;
  return loadOrCreateNodeKey({
    dataDir: config.dataDir,
    ...(config.nodePrivateKey ? { privateKeyB64: config.nodePrivateKey } : {}),
    ...(config.nodeKeyPath ? { keyPath: config.nodeKeyPath } : {}),
  });
}

/**
 * Opens the rings in the (existing) data dir; a generated node key needs the dir. Throws NodeKeyError
 * NODE_KEY_RETIRED when a secret is a key the transparency log says was replaced (see KeyRing).
 */
export async function openNodeKeys(
  config: NodeConfig,
  given: NodeKey | undefined,
  clock: Clock,
  logger: Logger,
): Promise<NodeKeys> {
  const ringOptions = { dataDir: config.dataDir, clock, tlogPath: config.tlogPath };
  const secret = (kind: KeyKind, key: NodeKey | undefined) =>
    key ? { secret: { key, name: SECRET_NAMES[kind] } } : {};
  const fixedNodeKey = given?.source === 'file' ? given : undefined;
  const nodeRing = fixedNodeKey
    ? null
    : await KeyRing.open({ ...ringOptions, kind: 'node', ...secret('node', given) });
  const issuerSeed = await loadGivenIssuerKey(config);
  const issuerRing = await KeyRing.open({ ...ringOptions, kind: 'issuer', ...secret('issuer', issuerSeed) });
  if (fixedNodeKey)
    logger.info(
      { event: 'node_key_fixed' },
      'the node key is given by TESSERA_NODE_KEY_PATH: rotate it by replacing that file and re-approving on the peers',
    );
  for (const ring of [nodeRing, issuerRing]) {
    if (!ring?.options.secret) continue;
    warnStanding(logger, ring.kind, ring.standing());
    ring.on('pending', (standing) => warnStanding(logger, ring.kind, standing));
  }
  return {
    nodeKey: () => nodeRing?.current() ?? (fixedNodeKey as NodeKey),
    nodeRing,
    issuerRing,
    rings: [nodeRing, issuerRing].filter((ring): ring is KeyRing => ring !== null),
  };
}

/** Says what the operator must do when a secret lags behind the log (never the key itself). */
function warnStanding(logger: Logger, kind: KeyKind, standing: KeyStanding): void {
  if (standing.state === 'pending')
    logger.error(
      {
        event: 'key_rotation_pending',
        kind,
        key_id: standing.event.old_key_id,
        new_key_id: standing.event.new_key_id,
        dual_trust_until: standing.event.dual_trust_until,
        tlog_index: standing.index,
      },
      `the ${kind} key was rotated to ${standing.event.new_key_id} but ${SECRET_NAMES[kind]} still holds the old key ${standing.event.old_key_id}: put the new seed in the secret and restart before ${standing.event.dual_trust_until} (after that this key is refused at start); the node keeps the old key until then`,
    );
  else if (standing.state === 'unlogged')
    logger.warn(
      { event: 'key_unlogged', kind, key_id_expected: standing.head.new_key_id },
      `${SECRET_NAMES[kind]} holds a ${kind} key the transparency log never names (its last ${kind} rotation made ${standing.head.new_key_id} current): it was replaced without \`tessera identity rotate-key\`, so peers must re-approve this node${kind === 'issuer' ? ' and capabilities signed by the old key no longer verify' : ''}`,
    );
}

/** The issuer key given as a secret, or undefined when the ring in the data dir is used. */
async function loadGivenIssuerKey(config: NodeConfig): Promise<NodeKey | undefined> {
  if (!config.issuerPrivateKey) return undefined;
  // Same seed format and checks as the node key; the data dir is not touched for a given seed.
  return loadOrCreateNodeKey({ dataDir: config.dataDir, privateKeyB64: config.issuerPrivateKey });
}
