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

/**
 * The Stigmem seeds' certificate recipe, run literally through bash (process substitution included): an
 * Ed25519 CA from `openssl req -x509` and, per node, a leaf signed by `openssl x509 -req` whose extfile
 * gives only `subjectAltName=URI:…` (no EKU, no basicConstraints). Files: DIR/ca.{crt,key} and
 * DIR/<name>/node.{crt,key}. `extfile` replaces the extension lines, for the refusal cases.
 */
export async function stigmemRecipe(
  dir: string,
  nodes: { name: string; uri: string; extfile?: string }[],
): Promise<{ caPath: string; node(name: string): { certPath: string; keyPath: string; caPath: string } }> {
  const ca = [
    `mkdir -p '${dir}' && cd '${dir}'`,
    'openssl genpkey -algorithm ed25519 -out ca.key',
    'openssl req -new -x509 -key ca.key -out ca.crt -days 3650 -subj "/CN=Stigmem Federation CA"',
  ];
  const leaves = nodes.flatMap(({ name, uri, extfile }) => [
    `mkdir -p '${dir}/${name}' && cd '${dir}/${name}'`,
    `ENTITY_URI='${uri}'`,
    'openssl genpkey -algorithm ed25519 -out node.key',
    `openssl req -new -key node.key -out node.csr -subj "/CN=stigmem-node" -addext "subjectAltName=URI:\${ENTITY_URI}"`,
    'openssl x509 -req -in node.csr -CA ../ca.crt -CAkey ../ca.key -CAcreateserial -out node.crt -days 90 ' +
      (extfile === undefined
        ? `-extfile <(echo "subjectAltName=URI:\${ENTITY_URI}")`
        : `-extfile <(printf '%s\\n' '${extfile}')`),
  ]);
  const script = ['set -euo pipefail', ...ca, ...leaves].join('\n');
  const result = await new Promise<{ code: number; stderr: string }>((resolve) => {
    execFile('/bin/bash', ['-c', script], (error, _stdout, stderr) =>
      resolve({ code: error ? 1 : 0, stderr }),
    );
  });
  if (result.code !== 0) throw new Error(`the Stigmem openssl recipe failed: ${result.stderr}`);
  const caPath = join(dir, 'ca.crt');
  return {
    caPath,
    node: (name) => ({
      certPath: join(dir, name, 'node.crt'),
      keyPath: join(dir, name, 'node.key'),
      caPath,
    }),
  };
}
