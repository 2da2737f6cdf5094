// RFC 9440 `Client-Cert` and `Client-Cert-Chain`: the client's certificate as an RFC 8941 structured-field
// Byte Sequence (`:base64-DER:`), and its chain as a List of them. Strict: a parameter, a second item, a
// non-canonical base64 or anything else the grammar does not allow is refused with the reason.
import { malformed } from './errors.ts';
import { DEFAULT_FORWARDED_CERT_LIMITS, type ForwardedCertLimits } from './limits.ts';
import { checkSize, strictBase64 } from './pem.ts';

/** The DER certificate of a `Client-Cert` header value. */
export function parseClientCert(
  value: string,
  limits: ForwardedCertLimits = DEFAULT_FORWARDED_CERT_LIMITS,
): Buffer {
  if (value.length > limits.maxHeaderLength)
    throw malformed('header_too_long', `Client-Cert is over ${limits.maxHeaderLength} characters`);
  return byteSequence(value.replace(/^[ \t]+|[ \t]+$/g, ''), 'Client-Cert', limits);
}

/** The DER certificates of a `Client-Cert-Chain` header value, in order. */
export function parseClientCertChain(
  value: string,
  limits: ForwardedCertLimits = DEFAULT_FORWARDED_CERT_LIMITS,
): Buffer[] {
  if (value.length > limits.maxHeaderLength)
    throw malformed('header_too_long', `Client-Cert-Chain is over ${limits.maxHeaderLength} characters`);
  const members = value.split(',');
  if (members.length > limits.maxChain)
    throw malformed('chain_too_long', `Client-Cert-Chain holds more than ${limits.maxChain} certificates`);
  return members.map((member, index) =>
    byteSequence(member.replace(/^[ \t]+|[ \t]+$/g, ''), `Client-Cert-Chain #${index + 1}`, limits),
  );
}

function byteSequence(item: string, what: string, limits: ForwardedCertLimits): Buffer {
  if (item.length < 2 || item[0] !== ':' || item[item.length - 1] !== ':')
    throw malformed('syntax', `${what} is not a structured-field byte sequence (:base64:)`);
  return checkSize(strictBase64(item.slice(1, -1), what), what, limits);
}
