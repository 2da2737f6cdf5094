// Who may speak for a client: a TCP peer whose address is in the trusted CIDRs and, when proxy identities
// are configured, whose own TLS certificate (the proxy-to-us hop is mTLS) carries one of them. Only such a
// peer's forwarded certificate and forwarded address are read; everyone else's are ignored (and stripped
// by the hook). The header format is one, fixed by configuration: a proxy that sets XFCC does not
// necessarily remove a Client-Cert the client sent, so the other format is never read.
import type { IncomingHttpHeaders } from 'node:http';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { peerIdentityOf } from '../../tls/identity.ts';
import { type CidrSet, normaliseAddress, parseCidrs } from './cidr.ts';
import { parseClientCert, parseClientCertChain } from './client-cert.ts';
import { forwardedClientIp } from './client-ip.ts';
import { malformed } from './errors.ts';
import { DEFAULT_FORWARDED_CERT_LIMITS, type ForwardedCertLimits } from './limits.ts';
import { clientCertFromXfcc, type ForwardedCertificate } from './xfcc.ts';

/** `xfcc`: Envoy's X-Forwarded-Client-Cert (nginx, Envoy, Caddy); `client-cert`: RFC 9440 (HAProxy). */
export type ForwardedCertHeader = 'xfcc' | 'client-cert';

/** Every header that can carry a forwarded client certificate (lower case). */
export const FORWARDED_CERT_HEADERS = [
  'x-forwarded-client-cert',
  'client-cert',
  'client-cert-chain',
] as const;

const HEADERS_OF: Record<ForwardedCertHeader, readonly string[]> = {
  xfcc: ['x-forwarded-client-cert'],
  'client-cert': ['client-cert', 'client-cert-chain'],
};

export interface TrustedProxiesOptions {
  /** CIDR networks (or bare addresses) of the proxies; empty: no proxy is trusted. */
  proxies: readonly string[];
  /** URI SANs of the proxies' own client certificates; empty: the address alone decides. */
  identities?: readonly string[];
  /** The one header format the proxies write. */
  header: ForwardedCertHeader;
  limits?: Partial<ForwardedCertLimits>;
}

export class TrustedProxies {
  readonly networks: CidrSet;
  readonly identities: ReadonlySet<string>;
  readonly header: ForwardedCertHeader;
  readonly limits: ForwardedCertLimits;

  constructor(options: TrustedProxiesOptions) {
    this.networks = parseCidrs(options.proxies);
    this.identities = new Set(options.identities ?? []);
    this.header = options.header;
    this.limits = { ...DEFAULT_FORWARDED_CERT_LIMITS, ...options.limits };
  }

  /** Whether any proxy is configured at all. */
  get enabled(): boolean {
    return this.networks.size > 0;
  }

  /** The headers of the configured format (read from trusted proxies) … */
  get accepted(): readonly string[] {
    return HEADERS_OF[this.header];
  }

  /** The TCP peer is a trusted proxy: its address is listed and, if identities are set, its certificate has one. */
  isTrusted(socket: Socket): boolean {
    if (!this.networks.has(socket.remoteAddress)) return false;
    if (this.identities.size === 0) return true;
    const tls = socket as TLSSocket;
    if (typeof tls.getPeerCertificate !== 'function' || !tls.authorized) return false;
    const identity = peerIdentityOf(tls);
    return identity?.uris.some((uri) => this.identities.has(uri)) ?? false;
  }

  /**
   * The client certificate a trusted proxy forwarded in the configured header; null when it sent none.
   * `rawHeaders` (Node's flat name/value list) detects a header sent twice, which Node would join with ", ".
   */
  readCertificate(
    headers: IncomingHttpHeaders,
    rawHeaders: readonly string[] = [],
  ): ForwardedCertificate | null {
    for (const name of this.accepted) {
      let count = 0;
      for (let i = 0; i < rawHeaders.length; i += 2) if (rawHeaders[i]?.toLowerCase() === name) count++;
      if (count > 1) throw malformed('duplicate_header', `${name} was sent ${count} times`);
    }
    if (this.header === 'xfcc') {
      const value = headers['x-forwarded-client-cert'];
      if (value === undefined) return null;
      return clientCertFromXfcc(String(value), this.limits);
    }
    const leaf = headers['client-cert'];
    const chain = headers['client-cert-chain'];
    if (leaf === undefined) {
      if (chain !== undefined) throw malformed('no_certificate', 'Client-Cert-Chain without Client-Cert');
      return null;
    }
    return {
      leaf: parseClientCert(String(leaf), this.limits),
      chain: chain === undefined ? [] : parseClientCertChain(String(chain), this.limits),
    };
  }

  /** The client's address: the socket's, or behind a trusted proxy the rightmost untrusted forwarded hop. */
  clientIp(socket: Socket, headers: IncomingHttpHeaders): string {
    const address = normaliseAddress(socket.remoteAddress) ?? socket.remoteAddress ?? '';
    if (!this.enabled || !this.isTrusted(socket)) return address;
    return forwardedClientIp(address, headers, this.networks);
  }
}
