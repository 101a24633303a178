// The room core's side of appservices: registration and login through an as_token, exclusive namespaces,
// identity assertion with timestamp massaging, user and alias queries on demand, per-network directory lists.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoreClient, enc, type CoreUser } from './coreHarness.js';

const AS_TOKEN = 'as-token-core-test';
const HS_TOKEN = 'hs-token-core-test';

describe('appservices, as the room core sees them', () => {
  let dir: string;
  let asServer: Server;
  let c: CoreClient;
  let alice: CoreUser;
  const queried: string[] = [];

  /** Client-Server calls as the appservice (optionally as one of its users). */
  const asCall = (method: string, path: string, body?: unknown, userId?: string) => {
    const sep = path.includes('?') ? '&' : '?';
    return c.call(method, userId ? `${path}${sep}user_id=${enc(userId)}` : path, { token: AS_TOKEN, body });
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pb-core-as-'));
    // A minimal appservice: it creates users and aliases it is asked about, except "missing" ones.
    asServer = createServer((req, res) => {
      void (async () => {
        const url = new URL(req.url ?? '/', 'http://x');
        const send = (status: number, body: unknown): void => {
          res.writeHead(status, { 'Content-Type': 'application/json' });
          res.end(JSON.stringify(body));
        };
        if (req.headers.authorization !== `Bearer ${HS_TOKEN}`) return send(403, { errcode: 'M_FORBIDDEN' });
        const user = /^\/_matrix\/app\/v1\/users\/(.+)$/.exec(url.pathname);
        if (user) {
          const userId = decodeURIComponent(user[1]!);
          queried.push(userId);
          if (userId.includes('missing')) return send(404, { errcode: 'M_NOT_FOUND' });
          const localpart = userId.slice(1, userId.indexOf(':'));
          const r = await asCall('POST', '/register', { type: 'm.login.application_service', username: localpart, inhibit_login: true });
          return send(r.status === 200 ? 200 : 500, {});
        }
        const room = /^\/_matrix\/app\/v1\/rooms\/(.+)$/.exec(url.pathname);
        if (room) {
          const alias = decodeURIComponent(room[1]!);
          queried.push(alias);
          const r = await asCall('POST', '/createRoom', { room_alias_name: alias.slice(1, alias.indexOf(':')), preset: 'public_chat' });
          return send(r.status === 200 ? 200 : 500, {});
        }
        if (url.pathname.startsWith('/_matrix/app/v1/transactions/')) return send(200, {});
        return send(404, { errcode: 'M_UNRECOGNIZED' });
      })();
    });
    await new Promise<void>((r) => asServer.listen(0, '127.0.0.1', () => r()));
    const asUrl = `http://127.0.0.1:${(asServer.address() as AddressInfo).port}`;
    const registration = join(dir, 'bridge.yaml');
    writeFileSync(
      registration,
      [
        'id: bridge',
        `url: ${asUrl}`,
        `as_token: ${AS_TOKEN}`,
        `hs_token: ${HS_TOKEN}`,
        'sender_localpart: bridgebot',
        'namespaces:',
        '  users:',
        "    - { regex: '@_bridge_.*:core\\.test', exclusive: true }",
        '  aliases:',
        "    - { regex: '#_bridge_.*:core\\.test', exclusive: true }",
        '  rooms: []',
      ].join('\n'),
    );
    c = await CoreClient.start({ appserviceConfigFiles: [registration], appserviceRetry: { initialMs: 50, maxMs: 200 } });
    alice = await c.register('alice');
  });
  afterAll(async () => {
    await c.stop();
    await new Promise((r) => asServer.close(r));
    rmSync(dir, { recursive: true, force: true });
  });

  it('registers namespace users for the appservice, and keeps others out of its exclusive namespace', async () => {
    const ok = await asCall('POST', '/register', { type: 'm.login.application_service', username: '_bridge_ann' });
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ user_id: '@_bridge_ann:core.test' });
    expect(typeof ok.body['access_token']).toBe('string');
    const outside = await asCall('POST', '/register', { type: 'm.login.application_service', username: 'plainuser' });
    expect(outside.body['errcode']).toBe('M_EXCLUSIVE');
    const noToken = await c.call('POST', '/register', { body: { type: 'm.login.application_service', username: '_bridge_x' } });
    expect(noToken.status).toBe(401);
    expect(noToken.body['errcode']).toBe('M_MISSING_TOKEN');
    const user = await c.call('POST', '/register', { body: { username: '_bridge_bob', password: 'p', auth: { type: 'm.login.dummy' } } });
    expect(user.status).toBe(400);
    expect(user.body['errcode']).toBe('M_EXCLUSIVE');
    const available = await c.call('GET', '/register/available?username=_bridge_zed');
    expect(available.body['errcode']).toBe('M_EXCLUSIVE');
    const login = await asCall('POST', '/login', { type: 'm.login.application_service', identifier: { type: 'm.id.user', user: '_bridge_ann' } });
    expect(login.status).toBe(200);
    expect(login.body['user_id']).toBe('@_bridge_ann:core.test');
  });

  it('acts as its users (identity assertion) and sets origin_server_ts from ?ts=', async () => {
    await asCall('POST', '/register', { type: 'm.login.application_service', username: '_bridge_ts', inhibit_login: true });
    const who = await asCall('GET', '/account/whoami', undefined, '@_bridge_ts:core.test');
    expect(who.body['user_id']).toBe('@_bridge_ts:core.test');
    const roomId = await c.createRoom(alice, { preset: 'public_chat' });
    expect((await asCall('POST', `/join/${enc(roomId)}`, {}, '@_bridge_ts:core.test')).status).toBe(200);
    const sent = await asCall('PUT', `/rooms/${enc(roomId)}/send/m.room.message/t1?ts=1234567890`, { body: 'old' }, '@_bridge_ts:core.test');
    const ev = await c.ok('GET', `/rooms/${enc(roomId)}/event/${enc(sent.body['event_id'] as string)}`, { token: alice.token });
    expect(ev).toMatchObject({ sender: '@_bridge_ts:core.test', origin_server_ts: 1234567890 });
    const state = await asCall('PUT', `/rooms/${enc(roomId)}/state/org.example.s/${enc('@_bridge_ts:core.test')}?ts=1000`, {}, '@_bridge_ts:core.test');
    expect(state.status).toBe(403); // power levels still apply to ghosts
    const bad = await asCall('PUT', `/rooms/${enc(roomId)}/send/m.room.message/t2?ts=yesterday`, { body: 'x' }, '@_bridge_ts:core.test');
    expect(bad.status).toBe(400);
    expect(bad.body['errcode']).toBe('M_INVALID_PARAM');
  });

  it('asks the appservice about unknown namespace users on invite, and about unknown aliases on join', async () => {
    const roomId = await c.createRoom(alice, {});
    const invited = await c.call('POST', `/rooms/${enc(roomId)}/invite`, { token: alice.token, body: { user_id: '@_bridge_new:core.test' } });
    expect(invited.status).toBe(200);
    expect(queried).toContain('@_bridge_new:core.test');
    const member = await c.ok('GET', `/rooms/${enc(roomId)}/state/m.room.member/${enc('@_bridge_new:core.test')}`, { token: alice.token });
    expect(member['membership']).toBe('invite');
    const missing = await c.call('POST', `/rooms/${enc(roomId)}/invite`, { token: alice.token, body: { user_id: '@_bridge_missing:core.test' } });
    expect(missing.status).toBe(404);
    expect(queried).toContain('@_bridge_missing:core.test');

    const joined = await c.call('POST', `/join/${enc('#_bridge_chan:core.test')}`, { token: alice.token, body: {} });
    expect(joined.status).toBe(200);
    expect(queried).toContain('#_bridge_chan:core.test');
    const resolved = await c.ok('GET', `/directory/room/${enc('#_bridge_chan:core.test')}`);
    expect(resolved['room_id']).toBe(joined.body['room_id']);
    const taken = await c.call('PUT', `/directory/room/${enc('#_bridge_mine:core.test')}`, { token: alice.token, body: { room_id: roomId } });
    expect(taken.body['errcode']).toBe('M_EXCLUSIVE');
  });

  it('keeps per-network directory lists for the appservice only', async () => {
    const roomId = await c.createRoom(alice, { preset: 'public_chat', name: 'Bridged channel' });
    await c.createRoom(alice, { preset: 'public_chat', name: 'Main list room', visibility: 'public' });
    const denied = await c.call('PUT', `/directory/list/appservice/libera/${enc(roomId)}`, { token: alice.token, body: { visibility: 'public' } });
    expect(denied.status).toBe(403);
    expect((await asCall('PUT', `/directory/list/appservice/libera/${enc(roomId)}`, { visibility: 'public' })).status).toBe(200);
    const names = (body: Record<string, unknown>): unknown[] => (body['chunk'] as Array<Record<string, unknown>>).map((r) => r['name']);
    const network = await c.ok('POST', '/publicRooms', { token: alice.token, body: { third_party_instance_id: 'bridge|libera' } });
    expect(names(network)).toEqual(['Bridged channel']);
    const main = await c.ok('GET', '/publicRooms');
    expect(names(main)).toContain('Main list room');
    expect(names(main)).not.toContain('Bridged channel');
    const all = await c.ok('POST', '/publicRooms', { token: alice.token, body: { include_all_networks: true } });
    expect(names(all)).toEqual(expect.arrayContaining(['Main list room', 'Bridged channel']));
    expect((await asCall('DELETE', `/directory/list/appservice/libera/${enc(roomId)}`)).status).toBe(200);
    const after = await c.ok('POST', '/publicRooms', { token: alice.token, body: { third_party_instance_id: 'bridge|libera' } });
    expect(after['chunk']).toEqual([]);
  });
});
