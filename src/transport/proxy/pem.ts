// Strict PEM and base64 decoding for forwarded certificates: anything that is not exactly certificate
// blocks of canonical base64 is refused with the reason, never repaired (a lenient decoder would let two
// proxies read one header differently).

import { malformed } from './errors.ts';
import type { ForwardedCertLimits } from './limits.ts';

const BLOCK = /-----BEGIN CERTIFICATE-----([^-]*)-----END CERTIFICATE-----/g;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** Canonical base64 (standard alphabet, padding optional but no stray bits) → bytes; `what` names it in errors. */
export function strictBase64(text: string, what: string): Buffer {
  if (!BASE64.test(text) || text.length % 4 === 1)
    throw malformed('bad_base64', `${what} is not valid base64`);
  const bytes = Buffer.from(text, 'base64');
  if (bytes.toString('base64').replace(/=+$/, '') !== text.replace(/=+$/, ''))
    throw malformed('bad_base64', `${what} is not canonical base64`);
  return bytes;
}

/** The DER bodies of the CERTIFICATE blocks of `pem`, in order; nothing but whitespace may surround them. */
export function pemToDers(pem: string, what: string, limits: ForwardedCertLimits, max: number): Buffer[] {
  const ders: Buffer[] = [];
  let rest = '';
  let last = 0;
  for (const match of pem.matchAll(BLOCK)) {
    rest += pem.slice(last, match.index);
    last = match.index + match[0].length;
    if (ders.length >= max) throw malformed('chain_too_long', `${what} holds more than ${max} certificates`);
    const der = strictBase64((match[1] ?? '').replace(/[\r\n\t ]/g, ''), what);
    ders.push(checkSize(der, what, limits));
  }
  rest += pem.slice(last);
  if (ders.length === 0) throw malformed('not_a_certificate', `${what} holds no PEM certificate`);
  if (rest.trim() !== '') throw malformed('not_a_certificate', `${what} holds text outside its PEM blocks`);
  return ders;
}

export function checkSize(der: Buffer, what: string, limits: ForwardedCertLimits): Buffer {
  if (der.length === 0) throw malformed('not_a_certificate', `${what} is empty`);
  if (der.length > limits.maxCertBytes)
    throw malformed('cert_too_large', `${what} is over ${limits.maxCertBytes} bytes`);
  return der;
}
