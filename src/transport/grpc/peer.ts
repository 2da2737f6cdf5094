// Rule 3 for gRPC: a call's peer is read from its auth context (the TLS socket's peer certificate DER,
// parsed to typed SANs), the same PeerIdentity the HTTPS adapter puts on `request.peer`.
import { type PeerIdentity, peerIdentityFromDer } from '../../tls/identity.ts';

/** Anything with grpc-js's `getAuthContext()`: a server call object (unary, stream) or an intercepting call. */
export interface HasAuthContext {
  getAuthContext(): { sslPeerCertificate?: { raw?: Buffer } | undefined };
}

/** The identity of the certificate the caller presented on this call's connection; null when none. */
export function grpcPeer(call: HasAuthContext): PeerIdentity | null {
  const raw = call.getAuthContext().sslPeerCertificate?.raw;
  return raw ? peerIdentityFromDer(raw) : null;
}
