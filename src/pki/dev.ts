// A throwaway PKI for local development and demos: one CA and one certificate per node, each with the
// SPIFFE ID spiffe://<trust-domain>/node/<name> and loopback names (localhost, 127.0.0.1, ::1).
// Re-running against the same directory reuses its CA (when OUT/ca.key exists), so adding a node to an
// existing dev setup keeps the other nodes' certificates trusted. All files are written in one atomic batch.
import { join } from 'node:path';
import { type FileToWrite, writeFilesAtomically } from './atomic-write.ts';
import { buildCa, CA_CERT_FILE, CA_KEY_FILE, type LoadedCa, loadCa } from './ca.ts';
import { PkiError } from './errors.ts';
import { buildLeaf, DEFAULT_LEAF_DAYS, leafPaths, spkiOf, validateLeafSpec } from './issue.ts';
import type { KeyAlgo } from './keys.ts';
import { ensureWritableDir, pathExists, validateTrustDomain } from './validate.ts';

export const DEFAULT_TRUST_DOMAIN = 'example.org';
const LOOPBACK = { dnsNames: ['localhost'], ips: ['127.0.0.1', '::1'] };

export interface DevPkiOptions {
  out: string;
  nodes: string[];
  trustDomain?: string;
  algo?: KeyAlgo;
  /** Lifetime of the node certificates (default 90); a new CA gets the CA default. */
  days?: number;
  now?: Date;
}

export interface DevPkiResult {
  caCertPath: string;
  caKeyPath: string;
  /** True when an existing CA in `out` was reused. */
  caReused: boolean;
  nodes: { name: string; uri: string; certPath: string; keyPath: string; spkiSha256: string }[];
}

export function devNodeUri(trustDomain: string, name: string): string {
  return `spiffe://${trustDomain}/node/${name}`;
}

export async function createDevPki(opts: DevPkiOptions): Promise<DevPkiResult> {
  const trustDomain = opts.trustDomain ?? DEFAULT_TRUST_DOMAIN;
  validateTrustDomain(trustDomain);
  if (opts.nodes.length === 0) throw new PkiError('PKI_INVALID_NAME', 'at least one node name is required');
  const duplicate = opts.nodes.find((name, i) => opts.nodes.indexOf(name) !== i);
  if (duplicate !== undefined) {
    throw new PkiError('PKI_INVALID_NAME', `node name ${JSON.stringify(duplicate)} is given twice`);
  }
  const specs = opts.nodes.map((name) => ({
    name,
    uris: [devNodeUri(trustDomain, name)],
    ...LOOPBACK,
    days: opts.days ?? DEFAULT_LEAF_DAYS,
    ...(opts.algo ? { algo: opts.algo } : {}),
    ...(opts.now ? { now: opts.now } : {}),
  }));
  for (const spec of specs) {
    validateLeafSpec(spec);
    // 'ca' would collide with the CA's own files.
    if (spec.name === 'ca') {
      throw new PkiError('PKI_INVALID_NAME', 'node name "ca" is reserved for the CA files');
    }
  }

  const caCertPath = join(opts.out, CA_CERT_FILE);
  const caKeyPath = join(opts.out, CA_KEY_FILE);
  const files: FileToWrite[] = [];
  let ca: LoadedCa;
  const caReused = await pathExists(caKeyPath);
  if (caReused) {
    ca = await loadCa(opts.out);
  } else {
    const built = await buildCa({
      ...(opts.algo ? { algo: opts.algo } : {}),
      ...(opts.now ? { now: opts.now } : {}),
    });
    ca = { certPem: built.certPem, keyPem: built.keyPem };
    files.push(
      { path: caKeyPath, data: ca.keyPem, mode: 0o600 },
      { path: caCertPath, data: ca.certPem, mode: 0o644 },
    );
  }

  // Everything is built (and each leaf checked against the CA's lifetime) in memory first.
  const nodes: DevPkiResult['nodes'] = [];
  for (const spec of specs) {
    const leaf = await buildLeaf(ca, spec);
    const { certPath, keyPath } = leafPaths(opts.out, spec.name);
    files.push(
      { path: keyPath, data: leaf.keyPem, mode: 0o600 },
      { path: certPath, data: leaf.certPem, mode: 0o644 },
    );
    nodes.push({ name: spec.name, uri: spec.uris[0]!, certPath, keyPath, spkiSha256: spkiOf(leaf.certPem) });
  }
  await ensureWritableDir(opts.out);
  await writeFilesAtomically(files);
  return { caCertPath, caKeyPath, caReused, nodes };
}
