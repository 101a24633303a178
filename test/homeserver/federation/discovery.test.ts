// Server name resolution in the spec's order, with a fake DNS and a fake .well-known: every step, the
// Host header and certificate name each one gives, and the caching of .well-known answers.
import { describe, expect, it } from '@jest/globals';
import pino from 'pino';
import { parseServerName } from '../../../homeserver/federation/discovery/ServerName.js';
import { pickSrv, ServerNameError, ServerResolver, type SrvRecord } from '../../../homeserver/federation/discovery/ServerResolver.js';
import { WellKnownServer, type WellKnownResponse } from '../../../homeserver/federation/discovery/WellKnownServer.js';

const quiet = pino({ level: 'silent' });

function world(wellKnown: Record<string, WellKnownResponse>, srv: Record<string, SrvRecord[]>, peers: Record<string, string> = {}) {
  const asked: string[] = [];
  let now = 0;
  const wk = new WellKnownServer(
    async (host) => {
      asked.push(`wk ${host}`);
      return wellKnown[host] ?? { ok: false };
    },
    quiet,
    () => now,
  );
  const resolver = new ServerResolver(peers, wk, async (name) => {
    asked.push(`srv ${name}`);
    return srv[name] ?? [];
  });
  return { resolver, asked, advance: (ms: number) => (now += ms) };
}

const ok = (server: string, cacheControl: string | null = null): WellKnownResponse => ({ ok: true, body: { 'm.server': server }, cacheControl });
const rec = (name: string, port: number, priority = 0, weight = 0): SrvRecord => ({ name, port, priority, weight });

describe('server names', () => {
  it.each([
    ['example.org', { host: 'example.org', port: null, ipLiteral: false }],
    ['example.org:8449', { host: 'example.org', port: 8449, ipLiteral: false }],
    ['1.2.3.4:80', { host: '1.2.3.4', port: 80, ipLiteral: true }],
    ['[::1]', { host: '[::1]', port: null, ipLiteral: true }],
    ['[1234:5678::abcd]:5678', { host: '[1234:5678::abcd]', port: 5678, ipLiteral: true }],
  ])('%s', (name, parsed) => expect(parseServerName(name)).toEqual(parsed));

  it.each(['', 'a b', 'example.org:', 'example.org:0', 'example.org:70000', '[nope]', '::1', 'a/b', 'example.org:80:80'])('refuses %j', (name) =>
    expect(parseServerName(name)).toBeNull(),
  );
});

describe('ServerResolver', () => {
  it('1: an IP literal, with the given port or 8448, and no lookups', async () => {
    const w = world({}, {});
    expect(await w.resolver.resolve('1.2.3.4')).toEqual({ host: '1.2.3.4', port: 8448, hostHeader: '1.2.3.4', tlsName: '1.2.3.4' });
    expect(await w.resolver.resolve('[::1]:8449')).toEqual({ host: '::1', port: 8449, hostHeader: '[::1]:8449', tlsName: '::1' });
    expect(w.asked).toEqual([]);
  });

  it('2: an explicit port skips .well-known and SRV', async () => {
    const w = world({ 'example.org': ok('other.org') }, {});
    expect(await w.resolver.resolve('example.org:8449')).toEqual({ host: 'example.org', port: 8449, hostHeader: 'example.org:8449', tlsName: 'example.org' });
    expect(w.asked).toEqual([]);
  });

  it('3.1 and 3.2: .well-known to an IP literal or a name with a port', async () => {
    const w = world({ 'a.org': ok('5.6.7.8'), 'b.org': ok('matrix.b.org:443') }, {});
    expect(await w.resolver.resolve('a.org')).toEqual({ host: '5.6.7.8', port: 8448, hostHeader: '5.6.7.8', tlsName: '5.6.7.8' });
    expect(await w.resolver.resolve('b.org')).toEqual({ host: 'matrix.b.org', port: 443, hostHeader: 'matrix.b.org:443', tlsName: 'matrix.b.org' });
  });

  it('3.3 to 3.5: .well-known to a name without a port: SRV matrix-fed, then matrix, then 8448', async () => {
    const w = world(
      { 'a.org': ok('hs.a.org'), 'b.org': ok('hs.b.org'), 'c.org': ok('hs.c.org') },
      { '_matrix-fed._tcp.hs.a.org': [rec('box1.a.org', 8000)], '_matrix._tcp.hs.b.org': [rec('box2.b.org', 9000)] },
    );
    expect(await w.resolver.resolve('a.org')).toEqual({ host: 'box1.a.org', port: 8000, hostHeader: 'hs.a.org', tlsName: 'hs.a.org' });
    expect(await w.resolver.resolve('b.org')).toEqual({ host: 'box2.b.org', port: 9000, hostHeader: 'hs.b.org', tlsName: 'hs.b.org' });
    expect(await w.resolver.resolve('c.org')).toEqual({ host: 'hs.c.org', port: 8448, hostHeader: 'hs.c.org', tlsName: 'hs.c.org' });
    expect(w.asked).toEqual([
      'wk a.org', 'srv _matrix-fed._tcp.hs.a.org',
      'wk b.org', 'srv _matrix-fed._tcp.hs.b.org', 'srv _matrix._tcp.hs.b.org',
      'wk c.org', 'srv _matrix-fed._tcp.hs.c.org', 'srv _matrix._tcp.hs.c.org',
    ]);
  });

  it('4 to 6: no (valid) .well-known: SRV on the server name, then port 8448', async () => {
    const w = world(
      { 'bad.org': { ok: true, body: { 'm.server': 42 }, cacheControl: null } },
      { '_matrix-fed._tcp.a.org': [rec('x.a.org', 1), rec('y.a.org', 2, 0, 10), rec('z.a.org', 3, 1, 99)], '_matrix._tcp.b.org': [rec('x.b.org', 4)] },
    );
    expect(await w.resolver.resolve('a.org')).toEqual({ host: 'y.a.org', port: 2, hostHeader: 'a.org', tlsName: 'a.org' });
    expect(await w.resolver.resolve('b.org')).toEqual({ host: 'x.b.org', port: 4, hostHeader: 'b.org', tlsName: 'b.org' });
    expect(await w.resolver.resolve('bad.org')).toEqual({ host: 'bad.org', port: 8448, hostHeader: 'bad.org', tlsName: 'bad.org' });
  });

  it('the config peer map comes first; only there is plain HTTP possible', async () => {
    const w = world({}, {}, { 'a.test': 'http://127.0.0.1:8009', 'b.test': 'hs.b.test:8448', '[::1]': 'http://[::1]:1' });
    expect(await w.resolver.resolve('a.test')).toEqual({ host: '127.0.0.1', port: 8009, hostHeader: 'a.test', tlsName: null });
    expect(await w.resolver.resolve('b.test')).toEqual({ host: 'hs.b.test', port: 8448, hostHeader: 'b.test', tlsName: 'hs.b.test' });
    expect((await w.resolver.resolve('[::1]')).host).toBe('::1');
    expect(w.asked).toEqual([]);
    await expect(w.resolver.resolve('not a name')).rejects.toThrow(ServerNameError);
  });

  it('caches .well-known: max-age (capped at 48 h), 24 h by default, failures for an hour', async () => {
    const w = world({ 'a.org': ok('hs.a.org:1', 'public, max-age=600'), 'b.org': ok('hs.b.org:1'), 'c.org': ok('hs.c.org:1', 'max-age=9999999') }, {});
    for (const name of ['a.org', 'b.org', 'c.org', 'd.org']) await w.resolver.resolve(name);
    const count = (): number => w.asked.filter((a) => a.startsWith('wk ')).length;
    expect(count()).toBe(4);
    w.advance(599_000);
    for (const name of ['a.org', 'b.org', 'c.org', 'd.org']) await w.resolver.resolve(name);
    expect(count()).toBe(4);
    w.advance(2_000); // a.org's 600 s are over
    await w.resolver.resolve('a.org');
    expect(count()).toBe(5);
    w.advance(3600_000); // d.org's failure is forgotten after an hour
    await w.resolver.resolve('d.org');
    await w.resolver.resolve('b.org');
    expect(w.asked.slice(-3)).toEqual(['wk d.org', 'srv _matrix-fed._tcp.d.org', 'srv _matrix._tcp.d.org']);
    expect(count()).toBe(6);
    w.advance(24 * 3600_000); // b.org's default day, then c.org at its 48 h cap
    await w.resolver.resolve('b.org');
    await w.resolver.resolve('c.org');
    expect(w.asked.slice(-1)).toEqual(['wk b.org']);
    w.advance(24 * 3600_000);
    await w.resolver.resolve('c.org');
    expect(w.asked.slice(-1)).toEqual(['wk c.org']);
  });

  it('treats an SRV target of "." as no service', () => {
    expect(pickSrv([rec('.', 0)])).toBeNull();
  });
});

describe('what .well-known/matrix/server names by default', () => {
  it('is the host of public_base_url on its port or 443, else the server name on 443', async () => {
    const { derivedWellKnownServer } = await import('../../../bin/homeserverOptions.js');
    expect(derivedWellKnownServer('https://matrix.example.org', 'example.org')).toBe('matrix.example.org:443');
    expect(derivedWellKnownServer('http://matrix.example.org:8008/', 'example.org')).toBe('matrix.example.org:8008');
    expect(derivedWellKnownServer(null, 'example.org')).toBe('example.org:443');
    expect(derivedWellKnownServer(null, '[::1]:8448')).toBe('[::1]:443');
  });
});
