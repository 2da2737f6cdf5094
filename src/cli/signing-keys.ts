// The node's two signing keys as `tessera serve` would use them, for the CLI commands that sign with or
// verify against them (identity rotate-key, capability verify): a secret (TESSERA_NODE_PRIVATE_KEY /
// TESSERA_ISSUER_PRIVATE_KEY, or their STIGMEM_* names), a file (TESSERA_NODE_KEY_PATH, node key only) or
// the data dir. Read only: unlike the node, a command never creates a key.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadOrCreateNodeKey, type NodeKey } from '../node/features/identity/node-key.ts';
import { RotationError } from '../node/features/rotation/errors.ts';
import { currentKeyFile, type KeyKind, readKey } from '../node/features/rotation/key-files.ts';
import { aliasOf } from '../node/settings/aliases.ts';
import { givenSetting } from '../node/settings/read.ts';
import { SETTINGS } from '../node/settings/table.ts';
import { parseCertificate, pemCertificatesToDer } from '../tls/x509.ts';

export type KeySource =
  /** Given as a seed; `variable` is the name the operator set (TESSERA_… or STIGMEM_…). */
  | { from: 'secret'; key: NodeKey; variable: string }
  | { from: 'file'; key: NodeKey; path: string }
  /** In the data dir; null when the node has not created it yet. */
  | { from: 'data-dir'; key: NodeKey | null; path: string };

const SECRET_SETTING = { node: SETTINGS.nodePrivateKey, issuer: SETTINGS.issuerPrivateKey } as const;

/** Where the key of `kind` comes from, with the settings already parsed (`values`) as for serve. */
export async function keySource(
  kind: KeyKind,
  values: {
    dataDir: string;
    nodePrivateKey?: string | undefined;
    issuerPrivateKey?: string | undefined;
    nodeKeyPath?: string | undefined;
  },
  flags: object,
): Promise<KeySource> {
  const seed = kind === 'node' ? values.nodePrivateKey : values.issuerPrivateKey;
  const setting = SECRET_SETTING[kind];
  if (seed) {
    const given = givenSetting(setting, flags as never, process.env);
    const variable = given?.from === 'alias' ? (aliasOf(setting) ?? setting.env) : setting.env;
    const key = await loadOrCreateNodeKey({
      dataDir: values.dataDir,
      privateKeyB64: seed,
      ...(kind === 'node' && values.nodeKeyPath ? { keyPath: values.nodeKeyPath } : {}),
    }).catch(asKeyError);
    return { from: 'secret', key, variable };
  }
  if (kind === 'node' && values.nodeKeyPath) {
    const key = await loadOrCreateNodeKey({ dataDir: values.dataDir, keyPath: values.nodeKeyPath }).catch(
      asKeyError,
    );
    return { from: 'file', key, path: values.nodeKeyPath };
  }
  const path = join(values.dataDir, currentKeyFile(kind));
  return { from: 'data-dir', key: await readKey(path), path };
}

function asKeyError(error: Error): never {
  // NodeKeyError messages name the variable or file, never the key.
  throw new RotationError('key_unreadable', error.message.replace(/^NODE_KEY_[A-Z_]+: /, ''));
}

/** The SPKI and certificate SHA-256 of the TLS leaf at `certPath`, as the node's manifest carries them. */
export async function tlsLeafHashes(certPath: string): Promise<{ spkiSha256: string; certSha256: string }> {
  let pem: string;
  try {
    pem = await readFile(certPath, 'utf8');
  } catch (error) {
    throw new RotationError(
      'key_unreadable',
      `cannot read the TLS certificate ${certPath} (${(error as NodeJS.ErrnoException).code ?? 'error'})`,
    );
  }
  const leaf = pemCertificatesToDer(pem)[0];
  if (!leaf) throw new RotationError('key_unreadable', `${certPath} holds no PEM certificate`);
  let parsed: ReturnType<typeof parseCertificate>;
  try {
    parsed = parseCertificate(leaf);
  } catch {
    throw new RotationError('key_unreadable', `${certPath}: its first certificate does not parse`);
  }
  return { spkiSha256: parsed.spkiSha256, certSha256: parsed.fingerprint256 };
}
