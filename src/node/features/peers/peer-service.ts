// Adding, approving and revoking peers. Adding proves the peer twice before anything is stored: its
// manifest is signed by the key it advertises, and the TLS certificate it presented on that very
// connection carries the manifest's entity URI. Approval needs the operator to confirm the key
// fingerprint out of band; revocation takes effect on open connections at once.

import { randomUUID } from 'node:crypto';
import { SCOPES, type Scope } from '../../../store/ports/facts.ts';
import type { PeerRecord } from '../../../store/ports/peers.ts';
import type { Clock } from '../../../tls/clock.ts';
import { parseCidrs } from '../../../transport/proxy/cidr.ts';
import { NodeError } from '../../errors.ts';
import { describePublicKey } from '../identity/node-key.ts';
import type { PeerDirectory } from './peer-directory.ts';

export const DEFAULT_PEER_SCOPES: Scope[] = ['company', 'public'];

export interface FetchedManifest {
  manifest: { entity_uri: string; key_id: string; public_key: string; tls_spki_sha256: string };
  /** The identity of the certificate the peer presented (null in the insecure dev mode). */
  tlsIdentity: { spkiSha256: string } | null;
}

export interface PeerServiceOptions {
  peers: PeerDirectory;
  selfEntityUri: string;
  /** Fetches and verifies the manifest, including the TLS binding; throws with a `code` when refused. */
  fetchManifest(federationUrl: string): Promise<FetchedManifest>;
  /** False on a single node (TESSERA_FEDERATION_ENABLED=false): no peer can be added. */
  federationEnabled?: boolean;
  clock: Clock;
  onApproved(peer: PeerRecord): void;
  onRevoked(peer: PeerRecord): void;
}

export class PeerService {
  constructor(private readonly options: PeerServiceOptions) {}

  async add(rawUrl: string): Promise<PeerRecord> {
    if (this.options.federationEnabled === false)
      throw new NodeError('federation_disabled', 'this node runs without federation: it cannot add peers');
    const url = federationOrigin(rawUrl);
    let fetched: FetchedManifest;
    try {
      fetched = await this.options.fetchManifest(url);
    } catch (error) {
      const code = (error as { code?: string }).code ?? 'peer_unreachable';
      throw new NodeError('peer_manifest_refused', `${url}: ${code}: ${(error as Error).message}`);
    }
    const { manifest, tlsIdentity } = fetched;
    if (manifest.entity_uri === this.options.selfEntityUri)
      throw new NodeError('peer_is_self', `${url} is this node (${manifest.entity_uri})`);
    const existing = this.options.peers.byEntityUri(manifest.entity_uri);
    if (existing)
      throw new NodeError(
        'peer_exists',
        `${manifest.entity_uri} is already known as peer ${existing.id} (${existing.status})`,
      );
    const now = this.options.clock().toISOString();
    const peer: PeerRecord = {
      id: randomUUID(),
      entityUri: manifest.entity_uri,
      federationUrl: url,
      publicKey: manifest.public_key,
      keyId: manifest.key_id,
      fingerprint: describePublicKey(manifest.public_key).fingerprint,
      tlsSpkiSha256: tlsIdentity?.spkiSha256 ?? manifest.tls_spki_sha256,
      status: 'pending',
      allowedScopes: [...DEFAULT_PEER_SCOPES],
      createdAt: now,
      updatedAt: now,
    };
    try {
      await this.options.peers.add(peer);
    } catch (error) {
      // Two concurrent adds of the same node: the store's uniqueness decides, the loser gets a clear 409.
      if ((error as { code?: string }).code === 'peer_exists')
        throw new NodeError('peer_exists', `${manifest.entity_uri} is already known`);
      throw error;
    }
    return peer;
  }

  /** `cidrs`: the addresses its federation requests must come from (undefined: unchanged; []: any). */
  async approve(id: string, fingerprint: string, scopes?: string[], cidrs?: string[]): Promise<PeerRecord> {
    const peer = this.#get(id);
    if (peer.status === 'revoked')
      throw new NodeError('peer_revoked', `peer ${id} was revoked; a revoked peer cannot be approved again`);
    if (normalise(fingerprint) !== peer.fingerprint)
      throw new NodeError(
        'fingerprint_mismatch',
        `the fingerprint given does not match the key of ${peer.entityUri}; compare it with the peer operator again`,
      );
    const allowedScopes = scopes === undefined ? peer.allowedScopes : parseScopes(scopes);
    let allowedCidrs: string[] | undefined;
    try {
      allowedCidrs = cidrs === undefined ? undefined : [...parseCidrs(cidrs).networks];
    } catch (error) {
      throw new NodeError('validation_failed', `allowed_cidrs: ${(error as Error).message}`);
    }
    const updated = await this.options.peers.update(id, {
      status: 'approved',
      allowedScopes,
      ...(allowedCidrs ? { allowedCidrs } : {}),
      updatedAt: this.options.clock().toISOString(),
    });
    this.options.onApproved(updated as PeerRecord);
    return updated as PeerRecord;
  }

  async revoke(id: string): Promise<PeerRecord> {
    this.#get(id);
    const updated = (await this.options.peers.update(id, {
      status: 'revoked',
      updatedAt: this.options.clock().toISOString(),
    })) as PeerRecord;
    this.options.onRevoked(updated);
    return updated;
  }

  #get(id: string): PeerRecord {
    const peer = this.options.peers.get(id);
    if (!peer) throw new NodeError('not_found', `no peer ${id}`);
    return peer;
  }
}

function federationOrigin(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new NodeError('validation_failed', `url: "${raw}" is not a URL`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:')
    throw new NodeError('validation_failed', `url: must be an https:// federation URL (got ${url.protocol})`);
  if (url.username || url.password || url.search || url.hash || url.pathname !== '/')
    throw new NodeError('validation_failed', 'url: must be the federation origin only (scheme, host, port)');
  return url.origin;
}

export function parseScopes(scopes: string[]): Scope[] {
  const unknown = scopes.filter((s) => !(SCOPES as readonly string[]).includes(s));
  if (unknown.length > 0)
    throw new NodeError('validation_failed', `allowed_scopes: unknown scope ${unknown.join(', ')}`);
  if (scopes.length === 0)
    throw new NodeError('validation_failed', 'allowed_scopes: at least one scope (company, public, team)');
  if (scopes.includes('local'))
    throw new NodeError('validation_failed', 'allowed_scopes: local facts never leave the node');
  return [...new Set(scopes)] as Scope[];
}

function normalise(fingerprint: string): string {
  const hex = fingerprint
    .trim()
    .toLowerCase()
    .replace(/^sha256:/, '')
    .replaceAll(':', '');
  return `sha256:${hex}`;
}
