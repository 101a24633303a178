// A user on b.test joins a room made on a.test by its alias #lobby:a.test: B asks A's directory
// (query/directory) and joins through the servers A names (make_join/send_join). An alias A does not have
// is 404 M_NOT_FOUND and joins nothing.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { enc, registerUser, startServerPair, type TestHomeserver, type TestUser, waitFor } from '../../harness/index.js';

let a: TestHomeserver;
let b: TestHomeserver;
let stopServers: (() => Promise<void>) | undefined;
let alice: TestUser;
let bob: TestUser;
let roomId: string;

beforeAll(async () => {
  ({ a, b, stop: stopServers } = await startServerPair({ name: 'fedalias' }));
  alice = await registerUser(a.url, 'alice');
  bob = await registerUser(b.url, 'bob');
  roomId = (await alice.http.ok<{ room_id: string }>('POST', '/_matrix/client/v3/createRoom', { body: { preset: 'public_chat', room_alias_name: 'lobby', name: 'Lobby' } })).room_id;
});

afterAll(async () => {
  await Promise.all([stopServers?.()]);
});

const members = async (user: TestUser): Promise<Record<string, string>> => {
  const res = await user.http.ok<{ chunk: Array<{ state_key: string; content: { membership: string } }> }>('GET', `/_matrix/client/v3/rooms/${enc(roomId)}/members`);
  return Object.fromEntries(res.chunk.map((e) => [e.state_key, e.content.membership]));
};

describe('joining by another server’s alias', () => {
  it('an unknown alias of a.test is 404 M_NOT_FOUND', async () => {
    const res = await bob.http.request('POST', `/_matrix/client/v3/join/${enc('#nothing:a.test')}`, { body: {} });
    expect(res.status).toBe(404);
    expect((res.body as { errcode: string }).errcode).toBe('M_NOT_FOUND');
  });

  it('a user on B joins #lobby:a.test, and both sides see the join', async () => {
    const joined = await bob.http.ok<{ room_id: string }>('POST', `/_matrix/client/v3/join/${enc('#lobby:a.test')}`, { body: {} });
    expect(joined.room_id).toBe(roomId);
    expect(await members(bob)).toEqual({ [alice.userId]: 'join', [bob.userId]: 'join' });
    expect((await members(alice))[bob.userId]).toBe('join');
    await alice.http.ok('PUT', `/_matrix/client/v3/rooms/${enc(roomId)}/send/m.room.message/m1`, { body: { msgtype: 'm.text', body: 'welcome' } });
    await waitFor(async () => {
      const res = await bob.http.ok<{ chunk: Array<{ content: Record<string, unknown> }> }>('GET', `/_matrix/client/v3/rooms/${enc(roomId)}/messages`, { query: { dir: 'b', limit: 5 } });
      return res.chunk.some((e) => e.content['body'] === 'welcome');
    }, 20_000, 'A’s message on B');
  });

  it('joining again by the alias is a no-op that answers the room ID', async () => {
    const again = await bob.http.ok<{ room_id: string }>('POST', `/_matrix/client/v3/join/${enc('#lobby:a.test')}`, { body: {} });
    expect(again.room_id).toBe(roomId);
  });
});
