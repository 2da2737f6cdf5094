// Judges a peer certificate that did not arrive in one of our own handshakes (a proxy that terminated the
// client's TLS forwarded it in a header): the chain to the CA bundle, the validity period and the purpose,
// with the same reasons a direct connection is refused with (OpenSSL's verdict as rejections.ts names it).
// Not a proof of possession: that is the proxy's handshake; here the certificate is only judged again.
import { X509Certificate } from 'node:crypto';
import { type PeerIdentity, peerIdentityFromDer } from './identity.ts';
import { EKU_CLIENT_AUTH, EKU_SERVER_AUTH, type ParsedCertificate, parseCertificate } from './x509.ts';

/** A revocation check for one certificate of the path (`issuer` signed it); a reason string when revoked. */
export type RevocationCheck = (cert: ParsedCertificate, issuer: ParsedCertificate) => string | null;

export interface VerifyPeerOptions {
  /** The trust anchors (our CA bundle). */
  cas: readonly ParsedCertificate[];
  /** 'server': we judge a client (clientAuth); 'client': we judge a server (serverAuth). */
  side: 'server' | 'client';
  now: Date;
  /**
   * Applied to each certificate of the path once it chains (a caller's own revocation source; the core's
   * CRLs are checked with checkPeerTrust, as the forwarded-identity hook's `trustCheck` does).
   */
  revoked?: RevocationCheck;
}

export type PeerVerdict =
  | { ok: true; identity: PeerIdentity }
  | { ok: false; reason: string; detail: string; identity?: PeerIdentity };

const MAX_DEPTH = 8;

/**
 * Verifies `leafDer` (with the intermediates sent beside it) against `options.cas`. Reasons: cert_invalid
 * (not X.509), cert_self_signed, cert_untrusted (no path by signature to an anchor), cert_expired /
 * cert_not_yet_valid (leaf or any certificate of the path), cert_wrong_purpose (a CA as the leaf, or an EKU
 * extension without the role's usage), cert_revoked (the revocation hook).
 */
export function verifyPeerCertificate(
  leafDer: Uint8Array,
  chainDers: readonly Uint8Array[],
  options: VerifyPeerOptions,
): PeerVerdict {
  let leaf: ParsedCertificate;
  let chain: ParsedCertificate[];
  let identity: PeerIdentity;
  try {
    leaf = parseCertificate(leafDer);
    identity = peerIdentityFromDer(leafDer);
    chain = chainDers.map((der) => parseCertificate(der));
  } catch {
    return { ok: false, reason: 'cert_invalid', detail: 'the certificate cannot be parsed as X.509' };
  }
  const fail = (reason: string, detail: string): PeerVerdict => ({ ok: false, reason, detail, identity });
  let path: ParsedCertificate[] | null;
  let self = false;
  try {
    path = pathToAnchor(leaf, chain, options.cas);
    self = !path && leaf.selfIssued && !options.cas.some((ca) => ca.der.equals(leaf.der)) && selfSigned(leaf);
  } catch {
    // Decoded by one parser, refused by OpenSSL's (found by fuzzing forwarded headers): not a certificate.
    return fail('cert_invalid', 'the certificate cannot be parsed by OpenSSL');
  }
  if (!path) {
    if (self) return fail('cert_self_signed', `self-signed certificate ${leaf.subject}`);
    return fail('cert_untrusted', `${leaf.subject} (issuer ${leaf.issuer}) does not chain to the CA bundle`);
  }
  const now = options.now.getTime();
  for (const cert of [leaf, ...path]) {
    if (cert.notAfter.getTime() < now)
      return fail('cert_expired', `${cert.subject} expired at ${cert.notAfter.toISOString()}`);
    if (cert.notBefore.getTime() > now)
      return fail(
        'cert_not_yet_valid',
        `${cert.subject} is not valid before ${cert.notBefore.toISOString()}`,
      );
  }
  if (leaf.isCa) return fail('cert_wrong_purpose', 'a CA certificate was presented as the leaf');
  const needed = options.side === 'server' ? EKU_CLIENT_AUTH : EKU_SERVER_AUTH;
  if (leaf.extendedKeyUsages !== null && !leaf.extendedKeyUsages.includes(needed))
    return fail(
      'cert_wrong_purpose',
      `the certificate's extended key usage lacks ${options.side === 'server' ? 'clientAuth' : 'serverAuth'}`,
    );
  if (options.revoked) {
    const certs = [leaf, ...path];
    for (let i = 0; i + 1 < certs.length; i++) {
      const reason = options.revoked(certs[i] as ParsedCertificate, certs[i + 1] as ParsedCertificate);
      if (reason) return fail('cert_revoked', `${certs[i]?.subject}: ${reason}`);
    }
  }
  return { ok: true, identity };
}

/** The issuers from the leaf's up to and including an anchor, found by signature; null when none is reached. */
function pathToAnchor(
  leaf: ParsedCertificate,
  chain: readonly ParsedCertificate[],
  cas: readonly ParsedCertificate[],
): ParsedCertificate[] | null {
  const candidates = [...chain, ...cas].map((parsed) => ({ parsed, x509: new X509Certificate(parsed.der) }));
  const anchors = new Set(cas.map((ca) => ca.der.toString('base64')));
  const path: ParsedCertificate[] = [];
  let current = new X509Certificate(leaf.der);
  for (let depth = 0; depth < MAX_DEPTH; depth++) {
    const issuer = candidates.find(
      (c) => c.x509.ca && current.checkIssued(c.x509) && current.verify(c.x509.publicKey),
    );
    if (!issuer) return null;
    path.push(issuer.parsed);
    if (anchors.has(issuer.parsed.der.toString('base64'))) return path;
    current = issuer.x509;
  }
  return null;
}

function selfSigned(cert: ParsedCertificate): boolean {
  const x509 = new X509Certificate(cert.der);
  return x509.verify(x509.publicKey);
}
