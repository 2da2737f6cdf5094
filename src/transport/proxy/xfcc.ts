// Envoy's `X-Forwarded-Client-Cert`: elements separated by `,` (one per proxy hop, the first added by the
// proxy that saw the client), each a `;`-separated list of key=value pairs, values optionally double-quoted
// (`\` escapes the next character). Keys: By, Hash, Cert (URL-encoded PEM), Chain (URL-encoded PEM chain),
// Subject, URI, DNS; others are ignored. Bounded before any decoding; every refusal is a ForwardedCertError.
import { createHash } from 'node:crypto';
import { malformed } from './errors.ts';
import { DEFAULT_FORWARDED_CERT_LIMITS, type ForwardedCertLimits } from './limits.ts';
import { pemToDers } from './pem.ts';

/** One hop of an XFCC header. */
export interface XfccElement {
  /** The proxy's own identities (By=…). */
  by: string[];
  /** Lower-case hex SHA-256 of the client certificate's DER (Hash=…). */
  hash?: string;
  /** The client certificate (Cert=…), DER. */
  cert?: Buffer;
  /** The client's chain after its leaf (Chain=…), DER. */
  chain: Buffer[];
  subject?: string;
  uris: string[];
  dns: string[];
}

/** The client certificate a request carries: the leaf and the intermediates sent with it, DER. */
export interface ForwardedCertificate {
  leaf: Buffer;
  chain: Buffer[];
}

const KEY = /^[A-Za-z][A-Za-z0-9_-]{0,31}$/;

/** Parses a whole XFCC header value into its elements (hops), first hop first. */
export function parseXfcc(
  value: string,
  limits: ForwardedCertLimits = DEFAULT_FORWARDED_CERT_LIMITS,
): XfccElement[] {
  if (value.length > limits.maxHeaderLength)
    throw malformed(
      'header_too_long',
      `X-Forwarded-Client-Cert is over ${limits.maxHeaderLength} characters`,
    );
  const elements: XfccElement[] = [];
  let element = newElement();
  let pairs = 0;
  let i = 0;
  const skipSpace = () => {
    while (value[i] === ' ' || value[i] === '\t') i++;
  };
  for (;;) {
    skipSpace();
    const eq = value.indexOf('=', i);
    if (eq < 0) throw malformed('syntax', 'X-Forwarded-Client-Cert: a pair has no "="');
    const key = value.slice(i, eq).trim();
    if (!KEY.test(key)) throw malformed('syntax', 'X-Forwarded-Client-Cert: a key is not a token');
    i = eq + 1;
    let raw: string;
    if (value[i] === '"') {
      raw = '';
      i++;
      for (;;) {
        if (i >= value.length)
          throw malformed('syntax', 'X-Forwarded-Client-Cert: unterminated quoted value');
        const c = value[i] as string;
        if (c === '"') break;
        if (c === '\\') {
          i++;
          if (i >= value.length) throw malformed('syntax', 'X-Forwarded-Client-Cert: dangling escape');
        }
        raw += value[i];
        i++;
      }
      i++;
      skipSpace();
    } else {
      let end = i;
      while (end < value.length && value[end] !== ';' && value[end] !== ',') end++;
      raw = value.slice(i, end).trim();
      if (raw.includes('"'))
        throw malformed('syntax', 'X-Forwarded-Client-Cert: a quote inside an unquoted value');
      i = end;
    }
    assign(element, key.toLowerCase(), raw, limits);
    pairs++;
    if (i >= value.length) break;
    const separator = value[i];
    i++;
    if (separator === ',') {
      elements.push(element);
      if (elements.length >= limits.maxElements)
        throw malformed(
          'too_many_elements',
          `X-Forwarded-Client-Cert has more than ${limits.maxElements} elements`,
        );
      element = newElement();
      pairs = 0;
    } else if (separator !== ';') throw malformed('syntax', 'X-Forwarded-Client-Cert: expected ";" or ","');
  }
  if (pairs === 0) throw malformed('syntax', 'X-Forwarded-Client-Cert: an empty element');
  elements.push(element);
  return elements;
}

/**
 * The client's certificate from an XFCC header: the Cert (and Chain) of the first element, the one the proxy
 * in front of the client wrote. An element without Cert cannot be verified again: refused (no_certificate).
 */
export function clientCertFromXfcc(
  value: string,
  limits: ForwardedCertLimits = DEFAULT_FORWARDED_CERT_LIMITS,
): ForwardedCertificate {
  const first = parseXfcc(value, limits)[0] as XfccElement;
  if (!first.cert)
    throw malformed(
      'no_certificate',
      'X-Forwarded-Client-Cert carries no Cert= for the client (only Hash/URI cannot be verified)',
    );
  return { leaf: first.cert, chain: first.chain };
}

function newElement(): XfccElement {
  return { by: [], chain: [], uris: [], dns: [] };
}

function assign(element: XfccElement, key: string, raw: string, limits: ForwardedCertLimits): void {
  switch (key) {
    case 'by':
      element.by.push(raw);
      return;
    case 'hash':
      if (element.hash !== undefined || !/^[0-9a-fA-F]{64}$/.test(raw))
        throw malformed('syntax', 'X-Forwarded-Client-Cert: Hash is not one hex SHA-256');
      element.hash = raw.toLowerCase();
      break;
    case 'cert': {
      if (element.cert) throw malformed('syntax', 'X-Forwarded-Client-Cert: two Cert= in one element');
      const ders = pemToDers(urlDecode(raw, 'Cert'), 'X-Forwarded-Client-Cert Cert', limits, 1);
      element.cert = ders[0] as Buffer;
      break;
    }
    case 'chain':
      if (element.chain.length > 0)
        throw malformed('syntax', 'X-Forwarded-Client-Cert: two Chain= in one element');
      // Envoy's Chain repeats the leaf first; the verifier finds the path whatever the order.
      element.chain = pemToDers(
        urlDecode(raw, 'Chain'),
        'X-Forwarded-Client-Cert Chain',
        limits,
        limits.maxChain + 1,
      );
      return;
    case 'subject':
      element.subject = raw;
      return;
    case 'uri':
      element.uris.push(raw);
      return;
    case 'dns':
      element.dns.push(raw);
      return;
    default:
      return;
  }
  if (element.cert && element.hash) {
    const actual = createHash('sha256').update(element.cert).digest('hex');
    if (actual !== element.hash)
      throw malformed('syntax', 'X-Forwarded-Client-Cert: Hash is not the SHA-256 of Cert');
  }
}

function urlDecode(raw: string, key: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw malformed('bad_percent_encoding', `X-Forwarded-Client-Cert ${key} is not valid URL encoding`);
  }
}
