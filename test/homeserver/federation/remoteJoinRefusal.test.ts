// A join through another server that the room forbids (a ban, invite-only join rules) answers the
// client as the spec's /join does: 403 M_FORBIDDEN with the resident server's reason, not 404 as for a
// room no server could be reached for. Nothing of the room is stored on the joining server.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { enc, registerUser, startServerPair, type TestHomeserver, type TestUser } from '../../harness/index.js';

describe('a join through another server that the room forbids', () => {
  let stopServers: (() => Promise<void>) | undefined;
  let a: TestHomeserver;
  let b: TestHomeserver;
  let alice: TestUser;
  let bob: TestUser;

  beforeAll(async () => {
    ({ a, b, stop: stopServers } = await startServerPair({ name: 'fedrefuse' }));
    alice = await registerUser(a.url, 'alice');
    bob = await registerUser(b.url, 'bob');
  });

  afterAll(async () => {
    await stopServers?.();
  });

  const joinThroughA = (roomId: string) => bob.http.request('POST', `/join/${enc(roomId)}`, { query: { server_name: 'a.test' }, body: {} });

  it('is 403 M_FORBIDDEN for an invite-only room', async () => {
    const roomId = (await alice.http.ok<{ room_id: string }>('POST', '/createRoom', { body: { preset: 'private_chat' } })).room_id;
    const res = await joinThroughA(roomId);
    expect(res.status).toBe(403);
    expect(res.body).toMatchObject({ errcode: 'M_FORBIDDEN' });
    const sync = await bob.http.ok<{ rooms: { join?: Record<string, unknown> } }>('GET', '/sync');
    expect(Object.keys(sync.rooms.join ?? {})).not.toContain(roomId);
  });

  it('is 403 M_FORBIDDEN for a user banned from a public room', async () => {
    const roomId = (await alice.http.ok<{ room_id: string }>('POST', '/createRoom', { body: { preset: 'public_chat' } })).room_id;
    await alice.http.ok('POST', `/rooms/${enc(roomId)}/ban`, { body: { user_id: bob.userId, reason: 'spam' } });
    const res = await joinThroughA(roomId);
    expect(res.status).toBe(403);
    expect(res.body).toMatchObject({ errcode: 'M_FORBIDDEN' });
  });

  it('is 403 M_FORBIDDEN for a room made with m.federate: false, and so is inviting a user of another server there', async () => {
    const roomId = (await alice.http.ok<{ room_id: string }>('POST', '/createRoom', { body: { preset: 'public_chat', creation_content: { 'm.federate': false } } })).room_id;
    const res = await joinThroughA(roomId);
    expect(res.status).toBe(403);
    expect(res.body).toMatchObject({ errcode: 'M_FORBIDDEN' });
    const invite = await alice.http.request('POST', `/rooms/${enc(roomId)}/invite`, { body: { user_id: bob.userId } });
    expect(invite.status).toBe(403);
    expect(invite.body).toMatchObject({ errcode: 'M_FORBIDDEN' });
  });

  it('is still 404 M_NOT_FOUND for a room the server does not have', async () => {
    const res = await joinThroughA('!nosuchroom:a.test');
    expect(res.status).toBe(404);
    expect(res.body).toMatchObject({ errcode: 'M_NOT_FOUND' });
  });
});
