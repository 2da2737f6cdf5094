// Rule 3: a peer's identity is read from the typed SANs of its DER certificate.
import type { TLSSocket } from 'node:tls';
import { parseCertificate } from './x509.ts';

export interface PeerIdentity {
  uris: string[];
  dnsNames: string[];
  ips: string[];
  /** Set when the certificate carries exactly one spiffe:// URI SAN (an X.509-SVID has exactly one). */
  spiffeId?: string;
  /** Lower-case hex SHA-256 of the DER certificate. */
  fingerprint256: string;
  /** Lower-case hex SHA-256 of the SubjectPublicKeyInfo: the value to pin. */
  spkiSha256: string;
  serial: string;
  notBefore: Date;
  notAfter: Date;
  issuer: string;
  subject: string;
  isCa: boolean;
  /** EKU OIDs, or null when the certificate has no EKU extension. */
  extendedKeyUsages: string[] | null;
}

/** Distinct certificates whose identity is kept: a federation sees a handful; a flood of new ones evicts the oldest. */
const DECODED_MAX = 1024;
/** Keyed by the DER itself (as a latin1 string: one byte per char, exact, and cheaper than a digest). */
const byDer = new Map<string, PeerIdentity>();
/** Keyed by the SHA-256 fingerprint Node's getPeerCertificate() has already computed in C++. */
const byFingerprint = new Map<string, PeerIdentity>();

/**
 * The identity in a DER certificate. Decoding X.509 in JavaScript is most of a handshake's cost, so each
 * distinct certificate (by its DER) is decoded once and kept, least recently used first
 * out, and dropped once past its notAfter. The result is frozen: it is shared by every connection that
 * presents the same certificate.
 */
export function peerIdentityFromDer(der: Uint8Array): PeerIdentity {
  const key = Buffer.from(der.buffer, der.byteOffset, der.byteLength).toString('latin1');
  return remembered(byDer, key, der);
}

/**
 * The identity in a certificate as Node's getPeerCertificate() gives it. Its fingerprint256 is a SHA-256 of
 * the DER, so it identifies the certificate as exactly as the DER does, and on a handshake's hot path it
 * spares copying the DER into a string to look it up.
 */
function peerIdentityFromPeerCertificate(cert: { raw: Buffer; fingerprint256: string }): PeerIdentity {
  return remembered(byFingerprint, cert.fingerprint256, cert.raw);
}

function remembered(cache: Map<string, PeerIdentity>, key: string, der: Uint8Array): PeerIdentity {
  const known = cache.get(key);
  if (known && known.notAfter.getTime() > Date.now()) {
    cache.delete(key);
    cache.set(key, known);
    return known;
  }
  const identity = decodeIdentity(der);
  cache.delete(key);
  cache.set(key, identity);
  if (cache.size > DECODED_MAX) cache.delete(cache.keys().next().value as string);
  return identity;
}

function decodeIdentity(der: Uint8Array): PeerIdentity {
  const cert = parseCertificate(der);
  const spiffe = cert.uris.filter((uri) => uri.startsWith('spiffe://'));
  return deepFreeze({
    uris: cert.uris,
    dnsNames: cert.dnsNames,
    ips: cert.ips,
    ...(spiffe.length === 1 && cert.uris.length === 1 ? { spiffeId: spiffe[0] } : {}),
    fingerprint256: cert.fingerprint256,
    spkiSha256: cert.spkiSha256,
    serial: cert.serial,
    notBefore: cert.notBefore,
    notAfter: cert.notAfter,
    issuer: cert.issuer,
    subject: cert.subject,
    isCa: cert.isCa,
    extendedKeyUsages: cert.extendedKeyUsages,
  });
}

function deepFreeze(identity: PeerIdentity): PeerIdentity {
  for (const list of [identity.uris, identity.dnsNames, identity.ips, identity.extendedKeyUsages]) {
    if (list) Object.freeze(list);
  }
  return Object.freeze(identity);
}

const identityCache = new WeakMap<TLSSocket, PeerIdentity | null>();

/** The identity of the certificate the peer presented on this socket, parsed once per socket. */
export function peerIdentityOf(socket: TLSSocket): PeerIdentity | null {
  if (identityCache.has(socket)) return identityCache.get(socket) ?? null;
  // Not getPeerX509Certificate(): on Node 20 a client socket then answers getPeerCertificate() (and itself)
  // with nothing ever after, and the live re-checks read the presented chain with getPeerCertificate(true).
  const cert = socket.getPeerCertificate();
  const identity = cert?.raw ? peerIdentityFromPeerCertificate(cert) : null;
  identityCache.set(socket, identity);
  return identity;
}

/** A short label for logs: the first URI SAN, else the fingerprint. */
export function describePeer(identity: PeerIdentity | null): string {
  if (!identity) return '(no certificate)';
  return identity.uris[0] ?? `sha256:${identity.fingerprint256}`;
}
