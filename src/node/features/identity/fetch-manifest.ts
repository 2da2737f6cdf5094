// Fetches a peer's manifest through the peer transport and proves it twice: the manifest verifies on its
// own (manifest.ts), and the certificate presented on the connection it arrived on carries the manifest's
// entity URI as a URI SAN and the manifest's TLS key. Until both hold, nothing the peer said is trusted.
// Every transport gets the same checks: they live here, above the port.
import type { PeerIdentity } from '../../../tls/identity.ts';
import type { PeerTransport } from '../federation/peer-transport.ts';
import { ManifestError, type SignedManifest, verifyManifest } from './manifest.ts';

export interface FetchManifestOptions {
  now?: Date;
  /** The entity URI the caller expects the peer to be. */
  expectedEntityUri?: string;
}

export interface FetchedPeerManifest {
  manifest: SignedManifest;
  /** The certificate the peer presented; null only for an http:// URL in insecure mode. */
  tlsIdentity: PeerIdentity | null;
}

export async function fetchPeerManifest(
  transport: Pick<PeerTransport, 'fetchManifest'>,
  federationUrl: string,
  options: FetchManifestOptions = {},
): Promise<FetchedPeerManifest> {
  const now = options.now ?? new Date();
  const response = await transport.fetchManifest(federationUrl);
  const manifest = verifyManifest(response.body, {
    now,
    ...(options.expectedEntityUri !== undefined ? { expectedEntityUri: options.expectedEntityUri } : {}),
  });
  // Fails closed: over https there must be a certificate to bind the manifest to.
  if (response.secure && !response.identity)
    throw new ManifestError(
      'tls_identity_mismatch',
      `${response.origin} presented no certificate to bind the manifest to`,
    );
  if (response.identity) checkTlsBinding(manifest, response.identity, response.origin);
  return { manifest, tlsIdentity: response.identity };
}

/** The manifest must name the certificate's identity and key: a chain that verifies is not enough. */
export function checkTlsBinding(manifest: SignedManifest, identity: PeerIdentity, origin: string): void {
  if (!identity.uris.includes(manifest.entity_uri))
    throw new ManifestError(
      'tls_identity_mismatch',
      `${origin} presented a certificate with URI SANs ${identity.uris.join(', ') || 'none'}, but its manifest claims entity_uri ${manifest.entity_uri}`,
      manifest,
    );
  if (manifest.tls_spki_sha256 !== identity.spkiSha256)
    throw new ManifestError(
      'tls_key_mismatch',
      `${origin} presented TLS key sha256:${identity.spkiSha256}, but its manifest names tls_spki_sha256 ${manifest.tls_spki_sha256 || '(none)'}`,
      manifest,
    );
}
