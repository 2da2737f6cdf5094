/**
 * Proxy-terminated mTLS: parsers for the headers a TLS-terminating proxy forwards the client's certificate
 * in (Envoy's X-Forwarded-Client-Cert, RFC 9440 Client-Cert / Client-Cert-Chain), the trusted-proxy rule
 * (address in CIDRs and, optionally, the proxy's own certificate identity), the client address behind
 * proxies, and a fastify hook that turns a trusted proxy's forwarded certificate into `request.peer`.
 */
export { type CidrSet, normaliseAddress, parseCidrs } from './cidr.ts';
export { parseClientCert, parseClientCertChain } from './client-cert.ts';
export { forwardedClientIp } from './client-ip.ts';
export { ForwardedCertError, type ForwardedCertSyntax } from './errors.ts';
export {
  type ForwardedIdentityOptions,
  installForwardedIdentity,
  UNTRUSTED_SOURCE,
} from './forwarded-identity.ts';
export { DEFAULT_FORWARDED_CERT_LIMITS, type ForwardedCertLimits } from './limits.ts';
export {
  FORWARDED_CERT_HEADERS,
  type ForwardedCertHeader,
  TrustedProxies,
  type TrustedProxiesOptions,
} from './trusted-proxies.ts';
export { clientCertFromXfcc, type ForwardedCertificate, parseXfcc, type XfccElement } from './xfcc.ts';
