// Registration (dummy UIA), login, logout, whoami, devices, capabilities, push rules, TURN, presence.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createHmac } from 'node:crypto';
import { CoreClient, enc, type CoreUser } from './coreHarness.js';

describe('accounts and client configuration', () => {
  let c: CoreClient;
  let alice: CoreUser;

  beforeAll(async () => {
    c = await CoreClient.start({ turn: { uris: ['turn:turn.example:3478'], sharedSecret: 's3cret', ttlSeconds: 600 } });
    alice = await c.register('alice');
  });
  afterAll(() => c.stop());

  it('registers through the dummy UIA flow with a session, and honours inhibit_login', async () => {
    const start = await c.call('POST', '/register', { body: { username: 'dora', password: 'pw' } });
    expect(start.status).toBe(401);
    expect(start.body['flows']).toEqual([{ stages: ['m.login.dummy'] }]);
    const session = start.body['session'] as string;
    const done = await c.ok('POST', '/register', {
      body: { username: 'dora', password: 'pw', inhibit_login: true, auth: { type: 'm.login.dummy', session } },
    });
    expect(done).toEqual({ user_id: '@dora:core.test', home_server: 'core.test' });
    const taken = await c.call('POST', '/register', { body: { username: 'dora', auth: { type: 'm.login.dummy' } } });
    expect(taken.body['errcode']).toBe('M_USER_IN_USE');
    const unknownSession = await c.call('POST', '/register', { body: { username: 'eve', auth: { type: 'm.login.dummy', session: 'nope' } } });
    expect(unknownSession.status).toBe(400);
    expect((await c.call('GET', '/register/available?username=dora')).body['errcode']).toBe('M_USER_IN_USE');
    expect(await c.ok('GET', '/register/available?username=fresh')).toEqual({ available: true });
    const generated = await c.ok('POST', '/register', { body: { auth: { type: 'm.login.dummy' } } });
    expect(String(generated['user_id'])).toMatch(/^@[a-z]+:core\.test$/);
  });

  it('logs in by localpart or user ID, refuses a wrong password, and logs out devices', async () => {
    const login = (user: string, password: string) =>
      c.call('POST', '/login', { body: { type: 'm.login.password', identifier: { type: 'm.id.user', user }, password, device_id: 'PHONE' } });
    expect((await login('alice', 'wrong')).body['errcode']).toBe('M_FORBIDDEN');
    const ok = await login('@alice:core.test', 'secret-password');
    expect(ok.body).toMatchObject({ user_id: alice.userId, device_id: 'PHONE', home_server: 'core.test' });
    const token = ok.body['access_token'] as string;
    const devices = await c.ok('GET', '/devices', { token });
    expect((devices['devices'] as Array<{ device_id: string }>).map((d) => d.device_id).sort()).toEqual([alice.deviceId, 'PHONE'].sort());
    await c.ok('PUT', '/devices/PHONE', { token, body: { display_name: 'My phone' } });
    expect(await c.ok('GET', '/devices/PHONE', { token })).toMatchObject({ display_name: 'My phone' });
    await c.ok('POST', '/logout', { token, body: {} });
    expect((await c.call('GET', '/account/whoami', { token })).body['errcode']).toBe('M_UNKNOWN_TOKEN');
    expect((await c.call('POST', '/login', { body: { type: 'm.login.token', token: 'x' } })).status).toBe(400);
    const flows = await c.ok('GET', '/login');
    expect(flows['flows']).toContainEqual({ type: 'm.login.password' });

    const other = await c.register('logmeout');
    const second = await login('logmeout', 'secret-password');
    await c.ok('POST', '/logout/all', { token: other.token, body: {} });
    expect((await c.call('GET', '/account/whoami', { token: second.body['access_token'] as string })).status).toBe(401);
  });

  it('advertises versions, well-known, capabilities with room versions 10 and 11', async () => {
    const v = await c.ok('GET', '/_matrix/client/versions');
    expect(v['versions']).toContain('v1.11');
    const wk = await c.ok('GET', '/.well-known/matrix/client');
    expect((wk['m.homeserver'] as Record<string, unknown>)['base_url']).toBe(c.hs.url);
    const caps = (await c.ok('GET', '/capabilities', { token: alice.token }))['capabilities'] as Record<string, Record<string, unknown>>;
    expect(caps['m.room_versions']).toMatchObject({ default: '10', available: { '10': 'stable', '11': 'stable' } });
    const v11 = await c.createRoom(alice, { room_version: '11' });
    const create = await c.ok('GET', `/rooms/${enc(v11)}/state/m.room.create`, { token: alice.token });
    expect(create).toEqual({ room_version: '11' });
  });

  it('serves default push rules and lets users add, order, disable and delete rules', async () => {
    const rules = (await c.ok('GET', '/pushrules/', { token: alice.token }))['global'] as Record<string, Array<Record<string, unknown>>>;
    expect(rules['override']![0]!['rule_id']).toBe('.m.rule.master');
    expect(rules['underride']!.map((r) => r['rule_id'])).toContain('.m.rule.message');
    expect(rules['content']![0]).toMatchObject({ rule_id: '.m.rule.contains_user_name', pattern: 'alice' });
    await c.ok('PUT', '/pushrules/global/content/cake', { token: alice.token, body: { pattern: 'cake*', actions: ['notify'] } });
    await c.ok('PUT', '/pushrules/global/content/pie?before=cake', { token: alice.token, body: { pattern: 'pie', actions: ['notify'] } });
    const content = (await c.ok('GET', '/pushrules/global/', { token: alice.token }))['content'] as Array<Record<string, unknown>>;
    expect(content.map((r) => r['rule_id'])).toEqual(['pie', 'cake', '.m.rule.contains_user_name']);
    await c.ok('PUT', '/pushrules/global/override/.m.rule.master/enabled', { token: alice.token, body: { enabled: true } });
    expect(await c.ok('GET', '/pushrules/global/override/.m.rule.master/enabled', { token: alice.token })).toEqual({ enabled: true });
    await c.ok('PUT', '/pushrules/global/content/cake/actions', { token: alice.token, body: { actions: [] } });
    expect(await c.ok('GET', '/pushrules/global/content/cake/actions', { token: alice.token })).toEqual({ actions: [] });
    const reserved = await c.call('PUT', '/pushrules/global/content/.mine', { token: alice.token, body: { pattern: 'x', actions: [] } });
    expect(reserved.status).toBe(400);
    const badAnchor = await c.call('PUT', '/pushrules/global/content/x?after=nope', { token: alice.token, body: { pattern: 'x', actions: [] } });
    expect(badAnchor.status).toBe(400);
    await c.ok('DELETE', '/pushrules/global/content/pie', { token: alice.token });
    expect((await c.call('GET', '/pushrules/global/content/pie', { token: alice.token })).status).toBe(404);
    const synced = await c.sync(alice);
    const pushRules = synced.account_data.events.find((e) => e.type === 'm.push_rules')!;
    expect(JSON.stringify(pushRules.content)).toContain('cake');
  });

  it('mints coturn REST credentials from the shared secret', async () => {
    const t = await c.ok('GET', '/voip/turnServer', { token: alice.token });
    expect(t['uris']).toEqual(['turn:turn.example:3478']);
    expect(t['ttl']).toBe(600);
    const username = t['username'] as string;
    const [expiry, user] = [username.slice(0, username.indexOf(':')), username.slice(username.indexOf(':') + 1)];
    expect(user).toBe(alice.userId);
    expect(Number(expiry)).toBeGreaterThan(Date.now() / 1000);
    expect(t['password']).toBe(createHmac('sha1', 's3cret').update(username).digest('base64'));
  });

  it('keeps basic presence', async () => {
    await c.ok('PUT', `/presence/${enc(alice.userId)}/status`, { token: alice.token, body: { presence: 'unavailable', status_msg: 'away' } });
    expect(await c.ok('GET', `/presence/${enc(alice.userId)}/status`, { token: alice.token })).toMatchObject({
      presence: 'unavailable',
      status_msg: 'away',
    });
    const bad = await c.call('PUT', `/presence/${enc(alice.userId)}/status`, { token: alice.token, body: { presence: 'busy' } });
    expect(bad.status).toBe(400);
    const s = await c.sync(alice);
    expect(s.presence.events.find((e) => e.sender === alice.userId)?.content).toMatchObject({ presence: 'unavailable' });
  });
});
