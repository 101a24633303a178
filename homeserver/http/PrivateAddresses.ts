// Addresses the homeserver must not connect to on behalf of someone else (a user's push gateway URL, a
// server name from a peer or an mxc:// URI): loopback, private, carrier-grade NAT, link-local,
// unique-local, multicast, unspecified, reserved and documentation ranges, in IPv4 and IPv6, with IPv4
// addresses written inside IPv6 (::ffff:a.b.c.d, ::ffff:7f00:1, ::a.b.c.d, NAT64 64:ff9b::/96) judged
// by the IPv4 address they carry. The check belongs in the connection's own DNS lookup
// (publicOnlyLookup), so the address checked is the address connected to, whatever DNS says later.
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { BlockList, isIP, type LookupFunction } from 'node:net';

function ranges(): BlockList {
  const list = new BlockList();
  for (const [net, prefix] of [
    ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12],
    ['192.0.0.0', 24], ['192.0.2.0', 24], ['192.88.99.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15],
    ['198.51.100.0', 24], ['203.0.113.0', 24], ['224.0.0.0', 4], ['240.0.0.0', 4],
  ] as const) {
    list.addSubnet(net, prefix, 'ipv4');
  }
  for (const [net, prefix] of [
    ['::', 96], ['100::', 64], ['2001:db8::', 32], ['fc00::', 7], ['fe80::', 10], ['fec0::', 10], ['ff00::', 8],
  ] as const) {
    list.addSubnet(net, prefix, 'ipv6');
  }
  return list;
}

const PRIVATE = ranges();

/** The 16 bytes of an IPv6 address (isIP(address) === 6, no zone). */
function ipv6Bytes(address: string): number[] {
  let text = address;
  const tail: number[] = [];
  const dotted = /:(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted) {
    tail.push(...dotted[1]!.split('.').map(Number));
    text = `${text.slice(0, dotted.index)}:0:0`;
  }
  const [head, rest] = text.split('::') as [string, string | undefined];
  const groups = (s: string): number[] => (s === '' ? [] : s.split(':').map((g) => parseInt(g, 16)));
  const front = groups(head);
  const back = rest === undefined ? [] : groups(rest);
  const all = [...front, ...new Array<number>(8 - front.length - back.length).fill(0), ...back];
  const bytes = all.flatMap((g) => [g >> 8, g & 0xff]);
  if (tail.length === 4) bytes.splice(12, 4, ...tail);
  return bytes;
}

/** The IPv4 address an IPv6 address carries (mapped, compatible, NAT64), or null. */
function embeddedIpv4(bytes: number[]): string | null {
  const zeros = (from: number, to: number): boolean => bytes.slice(from, to).every((b) => b === 0);
  const mapped = zeros(0, 10) && bytes[10] === 0xff && bytes[11] === 0xff;
  const compatible = zeros(0, 12) && !zeros(12, 16) && !(zeros(12, 15) && bytes[15] === 1);
  const nat64 = bytes[0] === 0 && bytes[1] === 0x64 && bytes[2] === 0xff && bytes[3] === 0x9b && zeros(4, 12);
  return mapped || compatible || nat64 ? bytes.slice(12).join('.') : null;
}

/** Whether the homeserver keeps away from this address; anything that is not an IP address counts as private. */
export function isPrivateAddress(address: string): boolean {
  const plain = address.replace(/^\[|\]$/g, '').replace(/%.*$/, '');
  const family = isIP(plain);
  if (family === 4) return PRIVATE.check(plain, 'ipv4');
  if (family !== 6) return true;
  const v4 = embeddedIpv4(ipv6Bytes(plain));
  if (v4 !== null) return PRIVATE.check(v4, 'ipv4');
  return PRIVATE.check(plain, 'ipv6');
}

type Resolve = (hostname: string, callback: (err: Error | null, addresses: LookupAddress[]) => void) => void;

const systemResolve: Resolve = (hostname, callback) => dnsLookup(hostname, { all: true }, callback);

/**
 * A `lookup` for http(s).request that drops private addresses from what the name resolves to and fails
 * with `refusal(hostname)` when none is left. Node skips `lookup` for an IP literal host: check those
 * with isPrivateAddress before connecting.
 */
export function publicOnlyLookup(refusal: (hostname: string) => Error, resolve: Resolve = systemResolve): LookupFunction {
  return (hostname, options, callback) => {
    resolve(hostname, (err, addresses) => {
      if (err) return callback(err, '');
      const family = typeof options.family === 'number' ? options.family : 0;
      const allowed = addresses.filter((a) => !isPrivateAddress(a.address) && (family === 0 || a.family === family));
      if (allowed.length === 0) return callback(refusal(hostname), '');
      if (options.all) return callback(null, allowed);
      return callback(null, allowed[0]!.address, allowed[0]!.family);
    });
  };
}
