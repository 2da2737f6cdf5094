// The node's signing keys: the node key (tokens, manifests) and the issuer key (capabilities). A node key
// from the data dir and the issuer key live in KeyRings (rotated by `tessera identity rotate-key`, picked up
// without a restart); a node key given by env or file is fixed.
import type { KeyObject } from 'node:crypto';
import type { Logger } from 'pino';
import type { Clock } from '../../../tls/clock.ts';
import type { NodeConfig } from '../../settings/config.ts';
import { KeyRing } from '../rotation/key-ring.ts';
import { loadOrCreateNodeKey, type NodeKey } from './node-key.ts';

export interface NodeKeys {
  /** The key to sign tokens and manifests with now. */
  nodeKey(): NodeKey;
  /** The node key's ring; null when the key is given by TESSERA_NODE_PRIVATE_KEY / TESSERA_NODE_KEY_PATH. */
  nodeRing: KeyRing | null;
  /** The issuer key's ring, or a fixed key given by TESSERA_ISSUER_PRIVATE_KEY. */
  issuerRing: IssuerKeys;
  /** Every ring, for watching and for the manifest's rotation events. */
  rings: KeyRing[];
}

/** What capabilities need of the issuer key: sign with the current one, verify with any still trusted. */
export interface IssuerKeys {
  current(): NodeKey;
  verificationKeys(now?: Date): KeyObject[];
}

/** A node key given by env or file, checked before the data dir exists; undefined when none is given. */
export async function loadGivenNodeKey(config: NodeConfig): Promise<NodeKey | undefined> {
  if (!config.nodePrivateKey && !config.nodeKeyPath) return undefined;
  return loadOrCreateNodeKey({
    dataDir: config.dataDir,
    ...(config.nodePrivateKey ? { privateKeyB64: config.nodePrivateKey } : {}),
    ...(config.nodeKeyPath ? { keyPath: config.nodeKeyPath } : {}),
  });
}

/** Opens the rings in the (existing) data dir; a generated node key needs the dir. */
export async function openNodeKeys(
  config: NodeConfig,
  given: NodeKey | undefined,
  clock: Clock,
  logger: Logger,
): Promise<NodeKeys> {
  const ringOptions = { dataDir: config.dataDir, clock, tlogPath: config.tlogPath };
  const nodeRing = given ? null : await KeyRing.open({ ...ringOptions, kind: 'node' });
  const fixedIssuer = await loadGivenIssuerKey(config);
  const issuerRing = fixedIssuer ? null : await KeyRing.open({ ...ringOptions, kind: 'issuer' });
  if (given)
    logger.info(
      { event: 'node_key_fixed' },
      'the node key is given by TESSERA_NODE_PRIVATE_KEY / TESSERA_NODE_KEY_PATH: rotate it by replacing that secret',
    );
  if (fixedIssuer)
    logger.info(
      { event: 'issuer_key_fixed' },
      'the capability issuer key is given by TESSERA_ISSUER_PRIVATE_KEY: rotate it by replacing that secret',
    );
  return {
    nodeKey: () => nodeRing?.current() ?? (given as NodeKey),
    nodeRing,
    issuerRing: issuerRing ?? fixedKeys(fixedIssuer as NodeKey),
    rings: [nodeRing, issuerRing].filter((ring): ring is KeyRing => ring !== null),
  };
}

/** A fixed issuer key (env secret), or undefined when the ring in the data dir is used. */
async function loadGivenIssuerKey(config: NodeConfig): Promise<NodeKey | undefined> {
  if (!config.issuerPrivateKey) return undefined;
  // Same seed format and checks as the node key; the data dir is not touched for a given seed.
  return loadOrCreateNodeKey({ dataDir: config.dataDir, privateKeyB64: config.issuerPrivateKey });
}

function fixedKeys(key: NodeKey): IssuerKeys {
  return { current: () => key, verificationKeys: () => [key.publicKey] };
}
