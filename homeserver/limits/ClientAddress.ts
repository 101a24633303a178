// The key a client address is counted under (rate limits, open connections). An IPv4-mapped IPv6 address
// is its IPv4 address; any other IPv6 client counts by its /64, since one subscriber usually holds a
// whole /64 and could otherwise pick a fresh address for every request.
import { isIP } from 'node:net';

const V4_MAPPED = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i;

/** The address as people write it: an IPv4-mapped IPv6 address (::ffff:1.2.3.4) as IPv4. */
export function plainAddress(address: string): string {
  return V4_MAPPED.exec(address)?.[1] ?? address;
}

export function addressKey(address: string): string {
  const mapped = V4_MAPPED.exec(address);
  if (mapped) return mapped[1]!;
  const bare = address.split('%')[0]!;
  if (isIP(bare) !== 6) return address;
  const groupsIn = (part: string): string[] => (part === '' ? [] : part.split(':'));
  // An embedded IPv4 address (…:1.2.3.4) takes the room of two groups.
  const width = (groups: string[]): number => groups.reduce((n, g) => n + (g.includes('.') ? 2 : 1), 0);
  let groups: string[];
  const gap = bare.indexOf('::');
  if (gap < 0) {
    groups = groupsIn(bare);
  } else {
    const head = groupsIn(bare.slice(0, gap));
    const tail = groupsIn(bare.slice(gap + 2));
    groups = [...head, ...Array<string>(Math.max(0, 8 - width(head) - width(tail))).fill('0'), ...tail];
  }
  return `${groups
    .slice(0, 4)
    .map((g) => (g.includes('.') ? g : parseInt(g, 16).toString(16)))
    .join(':')}::/64`;
}
