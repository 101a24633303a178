// The user directory lists users of other servers too: a user of b.test who joined a room on a.test is
// found by a.test's users who share that room (or, it being public, by anyone there), by user ID and by
// the display name of their join, as local members are. Element's invite dialog searches nothing else.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { enc, registerUser, startServerPair, type TestHomeserver, type TestUser, waitFor } from '../../harness/index.js';

type Search = { results: Array<{ user_id: string; display_name?: string; avatar_url?: string }>; limited: boolean };

describe('the user directory with users of another server', () => {
  let stopServers: (() => Promise<void>) | undefined;
  let a: TestHomeserver;
  let b: TestHomeserver;
  let alice: TestUser;
  let carol: TestUser;
  let bob: TestUser;
  let dave: TestUser;
  let roomId = '';

  beforeAll(async () => {
    ({ a, b, stop: stopServers } = await startServerPair({ name: 'feddir' }));
    alice = await registerUser(a.url, 'alice');
    carol = await registerUser(a.url, 'carol');
    bob = await registerUser(b.url, 'bob');
    dave = await registerUser(b.url, 'dave');
    await bob.http.ok('PUT', `/profile/${enc(bob.userId)}/displayname`, { body: { displayname: 'Bobby Tables' } });
    await bob.http.ok('PUT', `/profile/${enc(bob.userId)}/avatar_url`, { body: { avatar_url: 'mxc://b.test/bobface' } });
    roomId = (await alice.http.ok<{ room_id: string }>('POST', '/createRoom', { body: { preset: 'private_chat' } })).room_id;
    await alice.http.ok('POST', `/rooms/${enc(roomId)}/invite`, { body: { user_id: bob.userId } });
    await waitFor(async () => {
      const res = await bob.http.post<{ room_id?: string }>(`/join/${enc(roomId)}`, {});
      return res.status === 200;
    }, 20_000, 'bob joined the room on a.test');
  });

  afterAll(async () => {
    await stopServers?.();
  });

  const search = (user: TestUser, term: string): Promise<Search> => user.http.ok<Search>('POST', '/user_directory/search', { body: { search_term: term } });

  it('finds a member from another server by user ID and by the display name of their join', async () => {
    expect((await search(alice, 'bob')).results).toEqual([{ user_id: bob.userId, display_name: 'Bobby Tables', avatar_url: 'mxc://b.test/bobface' }]);
    expect((await search(alice, 'tables')).results.map((u) => u.user_id)).toEqual([bob.userId]);
  });

  it('does not show them to a local user who shares no room with them, nor users of that server no room here has', async () => {
    expect((await search(carol, 'bob')).results).toEqual([]);
    expect((await search(alice, dave.userId)).results).toEqual([]);
  });

  it('follows their display name changes and their leave', async () => {
    await bob.http.ok('PUT', `/profile/${enc(bob.userId)}/displayname`, { body: { displayname: 'Robert' } });
    await waitFor(async () => (await search(alice, 'robert')).results[0]?.display_name === 'Robert', 20_000, 'the new name in the directory on a.test');
    await bob.http.ok('POST', `/rooms/${enc(roomId)}/leave`, { body: {} });
    await waitFor(async () => (await search(alice, 'bob')).results.length === 0, 20_000, 'bob gone from the directory on a.test');
  });
});
