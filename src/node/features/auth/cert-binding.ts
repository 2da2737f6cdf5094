// Certificate-bound credentials (RFC 8705, section 3): a credential carrying a confirmation `x5t#S256`
// (the base64url SHA-256 of a client certificate's DER) is accepted only on a request whose client
// certificate is that one: the connection's own, or the one a trusted proxy forwarded and the node verified
// (request.peer). A stolen bound key is useless without the certificate's private key.
import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { PeerIdentity } from '../../../tls/identity.ts';
import { pemCertificatesToDer } from '../../../tls/x509.ts';

/** The `x5t#S256` of a peer identity (its fingerprint256 is the hex of the same digest). */
export function thumbprintOf(identity: PeerIdentity): string {
  return Buffer.from(identity.fingerprint256, 'hex').toString('base64url');
}

/** The `x5t#S256` of the first certificate of a PEM text; throws when there is none. */
export function thumbprintOfPem(pem: string): string {
  const der = pemCertificatesToDer(pem)[0];
  if (!der) throw new Error('no PEM certificate found');
  return createHash('sha256').update(der).digest('base64url');
}

/** `x5t#S256` as it appears on the wire: 43 base64url characters (a SHA-256). */
export const THUMBPRINT = /^[A-Za-z0-9_-]{43}$/;

/** The optional `cnf` member of a request that binds a credential to a certificate; `what` says its effect. */
export function confirmationSchema(what: string) {
  return z
    .strictObject({
      'x5t#S256': z
        .string()
        .regex(THUMBPRINT, 'must be the base64url SHA-256 of a DER certificate (43 characters)'),
    })
    .optional()
    .meta({ description: what });
}

/** Null when the credential may be used on this request; otherwise why not. */
export function bindingRefusal(bound: string | undefined, peer: PeerIdentity | null): string | null {
  if (!bound) return null;
  if (!peer) return 'this credential is bound to a client certificate, and the request presented none';
  if (thumbprintOf(peer) !== bound)
    return 'this credential is bound to another client certificate than the one presented';
  return null;
}
