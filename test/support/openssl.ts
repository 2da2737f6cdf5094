// Runs the system `openssl` binary: an independent implementation to check that the certificates Tessera
// builds are accepted by the library Node's TLS itself uses (OpenSSL 3).
import { execFile } from 'node:child_process';
import { join } from 'node:path';

export const OPENSSL = '/usr/bin/openssl';

export function openssl(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(OPENSSL, args, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** `openssl verify` of a leaf (or leaf + chain file: only its first certificate is verified) against a CA. */
export async function verifyPurpose(caPath: string, certPath: string, purpose: 'sslclient' | 'sslserver') {
  return openssl(['verify', '-CAfile', caPath, '-purpose', purpose, certPath]);
}

/** The SHA-256 fingerprint as openssl prints it, normalised to lower-case hex without colons. */
export async function opensslFingerprint(certPath: string): Promise<string> {
  const { stdout } = await openssl(['x509', '-in', certPath, '-noout', '-fingerprint', '-sha256']);
  const match = /Fingerprint=([0-9A-F:]+)/i.exec(stdout);
  if (!match) throw new Error(`unexpected openssl output: ${stdout}`);
  return match[1]!.replaceAll(':', '').toLowerCase();
}

/** One node's material from the recipe: DIR/<name>/node.{crt,key} and the CA bundle DIR/ca.crt. */
export interface RecipeNode {
  certPath: string;
  keyPath: string;
  caPath: string;
}

function runRecipe(lines: string[]): Promise<void> {
  const script = ['set -euo pipefail', ...lines].join('\n');
  return new Promise((resolve, reject) => {
    execFile('/bin/bash', ['-c', script], (error, _stdout, stderr) =>
      error ? reject(new Error(`the Stigmem openssl recipe failed: ${stderr}`)) : resolve(),
    );
  });
}

/**
 * Step 2 of the Stigmem seeds' recipe, per node, against the CA already in DIR (ca.crt, ca.key): a leaf
 * signed by `openssl x509 -req` whose extfile gives only `subjectAltName=URI:…` (no EKU, no
 * basicConstraints), in DIR/<name>/node.{crt,key}. `extfile` replaces the extension lines, for the refusal
 * cases. Run again with a new name for a rotation: same CA, new key pair, same entity URI.
 */
export async function stigmemLeaves(
  dir: string,
  nodes: { name: string; uri: string; extfile?: string }[],
): Promise<(name: string) => RecipeNode> {
  await runRecipe(
    nodes.flatMap(({ name, uri, extfile }) => [
      `mkdir -p '${dir}/${name}' && cd '${dir}/${name}'`,
      `ENTITY_URI='${uri}'`,
      'openssl genpkey -algorithm ed25519 -out node.key',
      `openssl req -new -key node.key -out node.csr -subj "/CN=stigmem-node" -addext "subjectAltName=URI:\${ENTITY_URI}"`,
      'openssl x509 -req -in node.csr -CA ../ca.crt -CAkey ../ca.key -CAcreateserial -out node.crt -days 90 ' +
        (extfile === undefined
          ? `-extfile <(echo "subjectAltName=URI:\${ENTITY_URI}")`
          : `-extfile <(printf '%s\\n' '${extfile}')`),
    ]),
  );
  return (name) => ({
    certPath: join(dir, name, 'node.crt'),
    keyPath: join(dir, name, 'node.key'),
    caPath: join(dir, 'ca.crt'),
  });
}

/**
 * The Stigmem seeds' certificate recipe, run literally through bash (process substitution included): an
 * Ed25519 CA from `openssl req -x509` (DIR/ca.{crt,key}) and, per node, stigmemLeaves.
 */
export async function stigmemRecipe(
  dir: string,
  nodes: { name: string; uri: string; extfile?: string }[],
): Promise<{ caPath: string; node(name: string): RecipeNode }> {
  await runRecipe([
    `mkdir -p '${dir}' && cd '${dir}'`,
    'openssl genpkey -algorithm ed25519 -out ca.key',
    'openssl req -new -x509 -key ca.key -out ca.crt -days 3650 -subj "/CN=Stigmem Federation CA"',
  ]);
  const node = await stigmemLeaves(dir, nodes);
  return { caPath: join(dir, 'ca.crt'), node };
}
