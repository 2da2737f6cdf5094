// Runs the system `openssl` binary: an independent implementation to check that the certificates Tessera
// builds are accepted by the library Node's TLS itself uses (OpenSSL 3).
import { execFile } from 'node:child_process';

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
