// Spec errors for bad requests: tokens, JSON, types, IDs, unknown endpoints and methods, sizes, CORS.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CoreClient, enc, type CoreUser } from './coreHarness.js';

describe('bad input gets spec errors', () => {
  let c: CoreClient;
  let alice: CoreUser;
  let roomId: string;

  beforeAll(async () => {
    c = await CoreClient.start({ maxBodyBytes: 4096 });
    alice = await c.register('alice');
    roomId = await c.createRoom(alice, {});
  });
  afterAll(() => c.stop());

  const expectError = async (p: Promise<{ status: number; body: Record<string, unknown> }>, status: number, errcode: string): Promise<void> => {
    const r = await p;
    expect({ status: r.status, errcode: r.body['errcode'] }).toEqual({ status, errcode });
    expect(typeof r.body['error']).toBe('string');
  };

  it('distinguishes missing, unknown and doubly given access tokens', async () => {
    await expectError(c.call('GET', '/account/whoami'), 401, 'M_MISSING_TOKEN');
    await expectError(c.call('GET', '/account/whoami', { token: 'nope' }), 401, 'M_UNKNOWN_TOKEN');
    await expectError(c.call('GET', `/account/whoami?access_token=${alice.token}`, { token: alice.token }), 401, 'M_MISSING_TOKEN');
    const legacy = await c.call('GET', `/account/whoami?access_token=${enc(alice.token)}`);
    expect(legacy.body).toMatchObject({ user_id: alice.userId, device_id: alice.deviceId });
  });

  it('answers bodies that are not JSON, not objects, wrongly typed or too large', async () => {
    const path = `/rooms/${enc(roomId)}/send/m.room.message/bad1`;
    await expectError(c.call('PUT', path, { token: alice.token, rawBody: '{"body": ', headers: { 'Content-Type': 'application/json' } }), 400, 'M_NOT_JSON');
    await expectError(c.call('PUT', path, { token: alice.token, body: [1, 2] }), 400, 'M_BAD_JSON');
    await expectError(c.call('POST', '/createRoom', { token: alice.token, body: { name: 5 } }), 400, 'M_BAD_JSON');
    await expectError(c.call('POST', '/createRoom', { token: alice.token, body: { invite: 'x' } }), 400, 'M_BAD_JSON');
    await expectError(c.call('POST', '/createRoom', { token: alice.token, body: { preset: 'party' } }), 400, 'M_INVALID_PARAM');
    await expectError(c.call('POST', '/createRoom', { token: alice.token, body: { room_version: '1' } }), 400, 'M_UNSUPPORTED_ROOM_VERSION');
    await expectError(c.call('PUT', path, { token: alice.token, body: { body: 'x'.repeat(5000) } }), 413, 'M_TOO_LARGE');
    const deep = '{"a":' + '['.repeat(1500) + ']'.repeat(1500) + '}';
    const r = await c.call('PUT', path, { token: alice.token, rawBody: deep, headers: { 'Content-Type': 'application/json' } });
    expect(r.status).toBe(400);
  });

  it('rejects invalid user, room and alias IDs', async () => {
    await expectError(c.call('POST', `/rooms/${enc(roomId)}/invite`, { token: alice.token, body: { user_id: 'bob' } }), 400, 'M_INVALID_PARAM');
    await expectError(c.call('POST', '/createRoom', { token: alice.token, body: { invite: ['not-a-user'] } }), 400, 'M_INVALID_PARAM');
    await expectError(c.call('GET', '/rooms/not-a-room/state', { token: alice.token }), 400, 'M_INVALID_PARAM');
    await expectError(c.call('POST', '/join/nonsense', { token: alice.token, body: {} }), 400, 'M_INVALID_PARAM');
    await expectError(c.call('GET', `/directory/room/${enc('no-hash')}`), 400, 'M_INVALID_PARAM');
    await expectError(c.call('GET', `/profile/${enc('@bad')}`), 400, 'M_INVALID_PARAM');
    await expectError(c.call('POST', '/register', { body: { username: 'Bad Name!', auth: { type: 'm.login.dummy' } } }), 400, 'M_INVALID_USERNAME');
    await expectError(c.call('POST', `/join/${enc('#missing:core.test')}`, { token: alice.token, body: {} }), 404, 'M_NOT_FOUND');
    await expectError(c.call('POST', `/join/${enc('!missing:core.test')}`, { token: alice.token, body: {} }), 404, 'M_NOT_FOUND');
    await expectError(c.call('POST', `/rooms/${enc(roomId)}/invite`, { token: alice.token, body: { user_id: '@ghost:core.test' } }), 404, 'M_NOT_FOUND');
  });

  it('answers unknown endpoints with 404 and wrong methods with 405, both M_UNRECOGNIZED', async () => {
    await expectError(c.call('GET', '/no/such/endpoint', { token: alice.token }), 404, 'M_UNRECOGNIZED');
    await expectError(c.call('GET', '/_matrix/nothing'), 404, 'M_UNRECOGNIZED');
    await expectError(c.call('GET', '/createRoom', { token: alice.token }), 405, 'M_UNRECOGNIZED');
    await expectError(c.call('DELETE', `/rooms/${enc(roomId)}/send/m.room.message/x`, { token: alice.token }), 405, 'M_UNRECOGNIZED');
    await expectError(c.call('POST', '/_matrix/client/versions'), 405, 'M_UNRECOGNIZED');
  });

  it('sends CORS headers everywhere and answers OPTIONS without auth', async () => {
    const pre = await c.call('OPTIONS', `/rooms/${enc(roomId)}/send/m.room.message/x`);
    expect(pre.status).toBe(200);
    expect(pre.headers.get('access-control-allow-origin')).toBe('*');
    expect(pre.headers.get('access-control-allow-headers')).toMatch(/Authorization/);
    const err = await c.call('GET', '/account/whoami');
    expect(err.headers.get('access-control-allow-origin')).toBe('*');
  });

  it('accepts ?ts= only from appservices (ignored for users) and validates it there', async () => {
    const r = await c.ok('PUT', `/rooms/${enc(roomId)}/send/m.room.message/ts1?ts=1000`, { token: alice.token, body: { body: 'x' } });
    const ev = await c.ok('GET', `/rooms/${enc(roomId)}/event/${enc(r['event_id'] as string)}`, { token: alice.token });
    expect(ev['origin_server_ts']).not.toBe(1000);
  });

  it('refuses guest registration cleanly and keeps serving after all of this', async () => {
    await expectError(c.call('POST', '/register?kind=guest', { body: {} }), 403, 'M_GUEST_ACCESS_FORBIDDEN');
    const who = await c.ok('GET', '/account/whoami', { token: alice.token });
    expect(who['user_id']).toBe(alice.userId);
  });
});
