// The client's address behind trusted proxies: X-Forwarded-For read from the right, skipping hops that are
// themselves trusted proxies; the first untrusted hop is the client (anything left of it could be forged by
// that client). X-Real-IP only when there is no X-Forwarded-For. Never called for an untrusted socket.
import { type CidrSet, normaliseAddress } from './cidr.ts';

/** At most this many hops are read (from the right); a longer header is cut, not refused. */
const MAX_HOPS = 32;
const MAX_LENGTH = 4096;

export function forwardedClientIp(
  socketAddress: string,
  headers: Record<string, string | string[] | undefined>,
  trusted: CidrSet,
): string {
  const xff = headerText(headers['x-forwarded-for']);
  if (xff !== undefined) {
    const hops = xff.slice(-MAX_LENGTH).split(',').slice(-MAX_HOPS).reverse();
    let last = socketAddress;
    for (const hop of hops) {
      const address = normaliseAddress(hop);
      // Garbage where an address should be: nothing left of it can be believed; the last sure hop is it.
      if (!address) return last;
      if (!trusted.has(address)) return address;
      last = address;
    }
    return last;
  }
  const real = normaliseAddress(headerText(headers['x-real-ip']));
  return real ?? socketAddress;
}

function headerText(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(',') : value;
}
