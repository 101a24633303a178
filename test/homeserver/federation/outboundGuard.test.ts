// Every outbound federation connection: the config's server list, and no private address unless the
// destination is one the operator named, also for .well-known lookups.
import { describe, expect, it } from '@jest/globals';
import type { LookupFunction } from 'node:net';
import { ServerAcl } from '../../../homeserver/federation/acl/ServerAcl.js';
import { wellKnownOverHttps } from '../../../homeserver/federation/discovery/WellKnownOverHttps.js';
import { OutboundGuard, OutboundRefusedError } from '../../../homeserver/federation/transport/OutboundGuard.js';

const everyone = new ServerAcl({ allow: ['*'], deny: ['*.denied.example'], allowIpLiterals: true });

describe('OutboundGuard', () => {
  const guard = new OutboundGuard(everyone, new Set(['lan.example']));

  it('refuses servers the config denies', () => {
    expect(() => guard.checkDestination('x.denied.example')).toThrow(OutboundRefusedError);
    expect(() => guard.checkDestination('fine.example')).not.toThrow();
  });

  it('refuses a private IP literal, allows a public one, and checks names in the lookup', () => {
    expect(() => guard.connectOptions('127.0.0.1:8448', '127.0.0.1')).toThrow(/private address/);
    expect(() => guard.connectOptions('x.example', '::ffff:192.168.0.1')).toThrow(/private address/);
    expect(guard.connectOptions('8.8.8.8', '8.8.8.8')).toEqual({});
    expect(guard.connectOptions('x.example', 'matrix.x.example').lookup).toBeInstanceOf(Function);
  });

  it('lets a server named in the config be private', () => {
    expect(guard.connectOptions('lan.example', '192.168.1.10')).toEqual({});
    expect(guard.connectOptions('lan.example', 'lan.example')).toEqual({});
  });
});

describe('.well-known lookups go through the guard', () => {
  it('a name is resolved by the guard\'s lookup, and a refusal there is "no delegation"', async () => {
    const asked: string[] = [];
    const refusing: LookupFunction = (host, _options, cb) => {
      asked.push(host);
      cb(new OutboundRefusedError(`${host} is private`), '');
    };
    const fetchWellKnown = wellKnownOverHttps(new OutboundGuard(everyone, new Set(), refusing));
    expect(await fetchWellKnown('internal.example')).toEqual({ ok: false });
    expect(asked).toEqual(['internal.example']);
  });

  it('a private IP literal is never connected to', async () => {
    const asked: string[] = [];
    const recording: LookupFunction = (host, _options, cb) => {
      asked.push(host);
      cb(new Error('unexpected'), '');
    };
    expect(await wellKnownOverHttps(new OutboundGuard(everyone, new Set(), recording))('127.0.0.1')).toEqual({ ok: false });
    expect(asked).toEqual([]);
  });
});
