// Upgrading a room with members on another server: the replacement is made here, and its joined members
// of other servers are invited through their servers (invite v2, as any invite of a remote user), so they
// can follow the tombstone; local members are invited as before.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { enc, registerUser, startServerPair, type TestHomeserver, type TestUser } from '../../harness/index.js';

type Members = { chunk: Array<{ state_key: string; content: { membership: string } }> };
type Sync = { rooms: { invite?: Record<string, unknown>; join?: Record<string, unknown> } };

describe('a room upgrade with members on another server', () => {
  let stopServers: (() => Promise<void>) | undefined;
  let a: TestHomeserver;
  let b: TestHomeserver;
  let alice: TestUser;
  let carol: TestUser;
  let bob: TestUser;

  beforeAll(async () => {
    ({ a, b, stop: stopServers } = await startServerPair({ name: 'fedupgrade' }));
    alice = await registerUser(a.url, 'alice');
    carol = await registerUser(a.url, 'carol');
    bob = await registerUser(b.url, 'bob');
  });

  afterAll(async () => {
    await stopServers?.();
  });

  const membership = async (user: TestUser, roomId: string, of: string): Promise<string | undefined> =>
    (await user.http.ok<Members>('GET', `/rooms/${enc(roomId)}/members`)).chunk.find((e) => e.state_key === of)?.content.membership;

  it('invites the old room\'s members on B through B; they join the replacement without server_name', async () => {
    const oldRoom = (await alice.http.ok<{ room_id: string }>('POST', '/createRoom', { body: { preset: 'private_chat', name: 'Ops' } })).room_id;
    for (const user of [carol, bob]) {
      await alice.http.ok('POST', `/rooms/${enc(oldRoom)}/invite`, { body: { user_id: user.userId } });
      await user.http.ok('POST', `/rooms/${enc(oldRoom)}/join`, { body: {} });
    }
    const { replacement_room: newRoom } = await alice.http.ok<{ replacement_room: string }>('POST', `/rooms/${enc(oldRoom)}/upgrade`, { body: { new_version: '11' } });

    expect(await membership(alice, newRoom, bob.userId)).toBe('invite');
    expect(await membership(alice, newRoom, carol.userId)).toBe('invite');
    const sync = await bob.http.ok<Sync>('GET', '/sync');
    expect(Object.keys(sync.rooms.invite ?? {})).toContain(newRoom);
    await bob.http.ok('POST', `/rooms/${enc(newRoom)}/join`, { body: {} });
    expect(await membership(alice, newRoom, bob.userId)).toBe('join');
    expect(await membership(bob, newRoom, bob.userId)).toBe('join');
  });
});
