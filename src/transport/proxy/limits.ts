// Bounds on what a forwarded certificate header may hold: a header past them is refused before any
// decoding work, so a huge or deeply repeated header costs the node a length check.

export interface ForwardedCertLimits {
  /** Characters in one header value (default 64 KiB: a URL-encoded PEM is about 1.4 × 1.35 × its DER). */
  maxHeaderLength: number;
  /** XFCC elements (hops), default 16. */
  maxElements: number;
  /** Bytes of one DER certificate, default 16 KiB. */
  maxCertBytes: number;
  /** Certificates in a forwarded chain (after the leaf), default 8. */
  maxChain: number;
}

export const DEFAULT_FORWARDED_CERT_LIMITS: ForwardedCertLimits = {
  maxHeaderLength: 64 * 1024,
  maxElements: 16,
  maxCertBytes: 16 * 1024,
  maxChain: 8,
};
