// m.room.server_acl as the spec's event schema describes it, and the same evaluator as the config's
// homeserver.federation.servers list.
import { describe, expect, it } from '@jest/globals';
import { ServerAcl } from '../../../homeserver/federation/acl/ServerAcl.js';

describe('ServerAcl.fromContent (m.room.server_acl)', () => {
  const acl = ServerAcl.fromContent({ allow: ['*'], deny: ['*.evil.com', 'evil.com', 'b?d.org'], allow_ip_literals: false });

  it.each([
    ['good.example', true, 'allowed by *'],
    ['evil.com', false, 'denied by name'],
    ['evil.com:8448', false, 'the port is not considered'],
    ['EVIL.COM', false, 'case-insensitive'],
    ['sub.evil.com', false, 'denied by glob'],
    ['notevil.com', true, '*.evil.com needs the dot'],
    ['bad.org', false, '? matches one character'],
    ['baad.org', true, '? matches exactly one'],
    ['1.2.3.4', false, 'IPv4 literal with allow_ip_literals false'],
    ['1.2.3.4:8448', false, 'IPv4 literal with a port'],
    ['[::1]', false, 'IPv6 literal'],
    ['[2001:db8::1]:8448', false, 'IPv6 literal with a port'],
  ])('%s -> %s (%s)', (server, expected) => {
    expect(acl.allows(server)).toBe(expected);
  });

  it('deny wins over allow', () => {
    const both = ServerAcl.fromContent({ allow: ['evil.com'], deny: ['evil.com'] });
    expect(both.allows('evil.com')).toBe(false);
  });

  it('no allow list denies everyone, the sender too', () => {
    expect(ServerAcl.fromContent({ deny: [] }).allows('example.org')).toBe(false);
    expect(ServerAcl.fromContent({}).allows('example.org')).toBe(false);
  });

  it('allow_ip_literals defaults to true, also when it is not a boolean', () => {
    expect(ServerAcl.fromContent({ allow: ['*'] }).allows('1.2.3.4')).toBe(true);
    expect(ServerAcl.fromContent({ allow: ['*'], allow_ip_literals: 'false' }).allows('1.2.3.4')).toBe(true);
    expect(ServerAcl.fromContent({ allow: ['1.2.3.*'], allow_ip_literals: true }).allows('1.2.3.4:80')).toBe(true);
  });

  it('ignores entries that are not strings and content that is not an object', () => {
    expect(ServerAcl.fromContent({ allow: [7, null, 'ok.org'], deny: 'ok.org' }).allows('ok.org')).toBe(true);
    expect(ServerAcl.fromContent('nonsense').allows('ok.org')).toBe(false);
  });

  it('matches a pathological pattern in linear time, not by backtracking', () => {
    const evil = ServerAcl.fromContent({ allow: [`${'a*'.repeat(30)}b`] });
    const started = process.hrtime.bigint();
    expect(evil.allows('a'.repeat(200))).toBe(false);
    expect(Number(process.hrtime.bigint() - started) / 1e6).toBeLessThan(1000);
  });
});
