// CIDR lists (trusted proxies, per-peer allowlists) on node:net's BlockList, with IPv4-mapped IPv6
// addresses (`::ffff:10.0.0.5`, what a dual-stack socket reports) read as the IPv4 address they carry.
import { BlockList, isIP } from 'node:net';

/** A set of networks; `has(address)` for any textual IPv4/IPv6 address (false for anything else). */
export interface CidrSet {
  has(address: string | undefined): boolean;
  readonly size: number;
  /** The networks as given (normalised), for logs and listings. */
  readonly networks: readonly string[];
}

/** Parses `10.0.0.0/8`, `2001:db8::/32`, or a bare address (a /32 or /128). Throws a TypeError naming the bad entry. */
export function parseCidrs(entries: readonly string[]): CidrSet {
  const list = new BlockList();
  const networks: string[] = [];
  for (const raw of entries) {
    const entry = raw.trim();
    if (!entry) continue;
    const [address = '', prefixText, extra] = entry.split('/');
    const family = isIP(address);
    const max = family === 4 ? 32 : 128;
    const prefix = prefixText === undefined ? max : Number(prefixText);
    if (
      family === 0 ||
      extra !== undefined ||
      (prefixText !== undefined && !/^\d{1,3}$/.test(prefixText)) ||
      prefix > max
    )
      throw new TypeError(`not an IP address or CIDR network: ${entry}`);
    list.addSubnet(address, prefix, family === 4 ? 'ipv4' : 'ipv6');
    networks.push(`${address}/${prefix}`);
  }
  return {
    size: networks.length,
    networks,
    has(address) {
      const plain = normaliseAddress(address);
      if (!plain) return false;
      return list.check(plain, isIP(plain) === 4 ? 'ipv4' : 'ipv6');
    },
  };
}

/** A socket or header address as a plain IP (IPv4-mapped IPv6 unwrapped, zone dropped); null when not an IP. */
export function normaliseAddress(address: string | undefined): string | null {
  if (!address) return null;
  let plain = address.trim();
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(plain);
  if (mapped) plain = mapped[1] as string;
  plain = plain.replace(/%.*$/, '');
  return isIP(plain) ? plain : null;
}
