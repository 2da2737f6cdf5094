// A throwaway PKI for tests: a CA per test file, leaves with any knob turned (expired, wrong EKU, CA as
// leaf, hostile SANs), and material written to a temp directory the way an operator would lay it out.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildCertificate, type CertificateSpec, type IssuedCertificate } from '../../src/pki/certificate.ts';
import type { MaterialPaths } from '../../src/tls/material.ts';

export const DAY_MS = 86_400_000;

export interface TestCa {
  certPem: string;
  keyPem: string;
  /** A leaf signed by this CA; defaults: both EKUs, URI spiffe://test.example/node/<name>, DNS localhost, IP 127.0.0.1. */
  issue(name: string, overrides?: Partial<CertificateSpec>): Promise<IssuedCertificate>;
}

export function testUri(name: string): string {
  return `spiffe://test.example/node/${name}`;
}

export async function createTestCa(
  subjectCN = 'Tessera Test CA',
  overrides: Partial<CertificateSpec> = {},
): Promise<TestCa> {
  const ca = await buildCertificate({ subjectCN, isCa: true, ...overrides });
  return {
    certPem: ca.certPem,
    keyPem: ca.keyPem,
    issue: (name, leafOverrides = {}) =>
      buildCertificate({
        subjectCN: name,
        issuer: { certPem: ca.certPem, keyPem: ca.keyPem },
        uris: [testUri(name)],
        dnsNames: ['localhost'],
        ips: ['127.0.0.1'],
        ...leafOverrides,
      }),
  };
}

/** A fresh temp directory, removed when the test (or suite) ends. */
export async function tempDir(
  t: { after(fn: () => unknown): void },
  prefix = 'tessera-test-',
): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Writes NAME.crt (leaf + chain), NAME.key and ca.crt into dir. */
export async function writeMaterial(
  dir: string,
  name: string,
  leaf: IssuedCertificate,
  caPem: string,
): Promise<MaterialPaths> {
  const paths = {
    certPath: join(dir, `${name}.crt`),
    keyPath: join(dir, `${name}.key`),
    caPath: join(dir, 'ca.crt'),
  };
  await writeFile(paths.certPath, leaf.chainPem);
  await writeFile(paths.keyPath, leaf.keyPem, { mode: 0o600 });
  await writeFile(paths.caPath, caPem);
  return paths;
}

/** In-memory material for a node:tls client or server. */
export function pemOf(
  leaf: IssuedCertificate,
  caPem: string,
): { certPem: string; keyPem: string; caPem: string } {
  return { certPem: leaf.chainPem, keyPem: leaf.keyPem, caPem };
}
