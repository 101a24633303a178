// The address classifier every server-to-server and push connection goes through, and the lookup that
// applies it to what a name resolves to.
import { describe, expect, it } from '@jest/globals';
import type { LookupAddress } from 'node:dns';
import { isPrivateAddress, publicOnlyLookup } from '../../../homeserver/http/PrivateAddresses.js';

describe('isPrivateAddress', () => {
  it.each([
    // IPv4
    ['0.0.0.0', true, 'unspecified'],
    ['0.1.2.3', true, '"this network"'],
    ['10.0.0.1', true, 'private'],
    ['100.64.0.1', true, 'carrier-grade NAT'],
    ['127.0.0.1', true, 'loopback'],
    ['127.255.255.254', true, 'loopback'],
    ['169.254.169.254', true, 'link-local (cloud metadata)'],
    ['172.16.0.1', true, 'private'],
    ['172.31.255.255', true, 'private'],
    ['192.0.0.8', true, 'IETF protocol assignments'],
    ['192.0.2.1', true, 'documentation'],
    ['192.168.1.1', true, 'private'],
    ['198.18.0.1', true, 'benchmarking'],
    ['198.51.100.7', true, 'documentation'],
    ['203.0.113.9', true, 'documentation'],
    ['224.0.0.1', true, 'multicast'],
    ['239.255.255.250', true, 'multicast'],
    ['240.0.0.1', true, 'reserved'],
    ['255.255.255.255', true, 'broadcast'],
    ['8.8.8.8', false, 'public'],
    ['172.32.0.1', false, 'just past 172.16/12'],
    ['100.128.0.1', false, 'just past 100.64/10'],
    ['1.1.1.1', false, 'public'],
    // IPv6
    ['::', true, 'unspecified'],
    ['::1', true, 'loopback'],
    ['fe80::1', true, 'link-local'],
    ['fe80::1%eth0', true, 'link-local with a zone'],
    ['fc00::1', true, 'unique-local'],
    ['fd12:3456::1', true, 'unique-local'],
    ['ff02::1', true, 'multicast'],
    ['fec0::1', true, 'site-local (deprecated)'],
    ['2001:db8::1', true, 'documentation'],
    ['100::1', true, 'discard-only'],
    ['[::1]', true, 'bracketed'],
    ['2001:4860:4860::8888', false, 'public'],
    ['2a00:1450:4001:80b::200e', false, 'public'],
    // IPv4 inside IPv6
    ['::ffff:127.0.0.1', true, 'IPv4-mapped loopback'],
    ['::ffff:7f00:1', true, 'IPv4-mapped loopback, hex'],
    ['::FFFF:10.1.2.3', true, 'IPv4-mapped private, upper case'],
    ['0:0:0:0:0:ffff:a9fe:a9fe', true, 'IPv4-mapped metadata address, long form'],
    ['::127.0.0.1', true, 'IPv4-compatible loopback'],
    ['64:ff9b::10.0.0.1', true, 'NAT64 of a private address'],
    ['::ffff:8.8.8.8', false, 'IPv4-mapped public'],
    ['::ffff:808:808', false, 'IPv4-mapped public, hex'],
    ['64:ff9b::8.8.8.8', false, 'NAT64 of a public address'],
    // Not an address at all
    ['localhost', true, 'a name'],
    ['', true, 'empty'],
    ['1.2.3', true, 'not quite IPv4'],
  ])('%s -> private %s (%s)', (address, expected) => {
    expect(isPrivateAddress(address)).toBe(expected);
  });
});

describe('publicOnlyLookup', () => {
  const resolvingTo =
    (addresses: LookupAddress[]) =>
    (_host: string, cb: (err: Error | null, addresses: LookupAddress[]) => void): void =>
      cb(null, addresses);
  const lookupWith = (addresses: LookupAddress[], options: { all?: boolean; family?: number } = {}): Promise<unknown> =>
    new Promise((resolve, reject) => {
      publicOnlyLookup((host) => new Error(`refused ${host}`), resolvingTo(addresses))('peer.example', options, (err, address, family) =>
        err ? reject(err) : resolve(options.all ? address : { address, family }),
      );
    });

  it('refuses a name that resolves to private addresses only', async () => {
    await expect(lookupWith([{ address: '127.0.0.1', family: 4 }, { address: '::1', family: 6 }])).rejects.toThrow('refused peer.example');
  });

  it('connects to the public address of a name that also resolves to a private one (DNS rebinding)', async () => {
    expect(await lookupWith([{ address: '10.0.0.1', family: 4 }, { address: '93.184.216.34', family: 4 }])).toEqual({ address: '93.184.216.34', family: 4 });
    expect(await lookupWith([{ address: '::ffff:127.0.0.1', family: 6 }, { address: '2606:2800:220:1::1', family: 6 }], { all: true })).toEqual([
      { address: '2606:2800:220:1::1', family: 6 },
    ]);
  });

  it('keeps to the family asked for', async () => {
    await expect(lookupWith([{ address: '93.184.216.34', family: 4 }], { family: 6 })).rejects.toThrow('refused');
  });
});
