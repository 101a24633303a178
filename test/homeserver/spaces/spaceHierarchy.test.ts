// Spaces and jump to date on one homeserver, over HTTP: GET /_matrix/client/v1/rooms/{roomId}/hierarchy
// walks a space depth first, shows each user only the rooms they may see (a private child is hidden, a
// restricted one shows once the user is in the space), pages with next_batch, honours max_depth and
// suggested_only; matrix-js-sdk's getRoomHierarchy reads it. GET .../timestamp_to_event finds the
// closest event a user may see. Answers are checked against the spec's data.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as sdk from 'matrix-js-sdk';
import { enc, registerUser, SpecValidator, startTestHomeserver, type TestHomeserver, type TestUser } from '../../harness/index.js';

const spec = SpecValidator.load();
let hs: TestHomeserver;
let alice: TestUser;
let bob: TestUser;
let space: string;
let general: string;
let secret: string;
let subspace: string;
let deep: string;
let members: string;

type Room = { room_id: string; name?: string; children_state: Array<{ state_key: string }>; num_joined_members: number; join_rule: string; room_type?: string };
type Page = { rooms: Room[]; next_batch?: string };

const create = async (user: TestUser, body: Record<string, unknown>): Promise<string> =>
  (await user.http.ok<{ room_id: string }>('POST', '/_matrix/client/v3/createRoom', { body })).room_id;
const addChild = (parent: string, child: string, content: Record<string, unknown> = {}): Promise<unknown> =>
  alice.http.ok('PUT', `/_matrix/client/v3/rooms/${enc(parent)}/state/m.space.child/${enc(child)}`, { body: { via: ['localhost'], ...content } });
const hierarchy = (user: TestUser, roomId: string, query: Record<string, string | number | boolean> = {}) =>
  user.http.request<Page>('GET', `/_matrix/client/v1/rooms/${enc(roomId)}/hierarchy`, { query: Object.fromEntries(Object.entries(query).map(([k, v]) => [k, String(v)])) });

async function validHierarchy(body: unknown): Promise<void> {
  if (spec) expect(await spec.validateResponse('client-server/space_hierarchy.yaml', '/rooms/{roomId}/hierarchy', 'get', 200, body)).toEqual([]);
}

beforeAll(async () => {
  hs = await startTestHomeserver();
  alice = await registerUser(hs.url, 'alice');
  bob = await registerUser(hs.url, 'bob');
  space = await create(alice, { preset: 'public_chat', name: 'Space', topic: 'All of it', creation_content: { type: 'm.space' } });
  general = await create(alice, { preset: 'public_chat', name: 'General' });
  secret = await create(alice, { preset: 'private_chat', name: 'Secret' });
  subspace = await create(alice, { preset: 'public_chat', name: 'Sub', creation_content: { type: 'm.space' } });
  deep = await create(alice, { preset: 'public_chat', name: 'Deep' });
  members = await create(alice, {
    preset: 'private_chat',
    name: 'Members only',
    room_version: '10',
    initial_state: [{ type: 'm.room.join_rules', state_key: '', content: { join_rule: 'restricted', allow: [{ type: 'm.room_membership', room_id: space }] } }],
  });
  await addChild(space, general, { order: 'a', suggested: true });
  await addChild(space, secret, { order: 'b' });
  await addChild(space, subspace, { order: 'c' });
  await addChild(space, members, { order: 'd' });
  await addChild(subspace, deep);
  // Without via the spec ignores a child.
  await alice.http.ok('PUT', `/_matrix/client/v3/rooms/${enc(space)}/state/m.space.child/${enc('!gone:localhost')}`, { body: {} });
});

afterAll(async () => {
  await hs?.stop();
});

describe('GET /hierarchy', () => {
  it('walks the space depth first in child order, each room with its summary and children_state', async () => {
    const res = await hierarchy(alice, space);
    expect(res.status).toBe(200);
    await validHierarchy(res.body);
    expect(res.body.rooms.map((r) => r.name)).toEqual(['Space', 'General', 'Secret', 'Sub', 'Deep', 'Members only']);
    expect(res.body.next_batch).toBeUndefined();
    const top = res.body.rooms[0]!;
    expect(top).toMatchObject({ room_id: space, topic: 'All of it', room_type: 'm.space', join_rule: 'public', num_joined_members: 1, world_readable: false, guest_can_join: false });
    expect(top.children_state.map((c) => c.state_key)).toEqual([general, secret, subspace, members]);
    expect(res.body.rooms.find((r) => r.room_id === general)!.children_state).toEqual([]);
    expect(res.body.rooms.find((r) => r.room_id === members)).toMatchObject({ join_rule: 'restricted', allowed_room_ids: [space] });
  });

  it('hides a private child and a restricted one from a user outside the space, and shows the restricted one once they join it', async () => {
    const before = await hierarchy(bob, space);
    expect(before.body.rooms.map((r) => r.name)).toEqual(['Space', 'General', 'Sub', 'Deep']);
    await bob.http.ok('POST', `/_matrix/client/v3/join/${enc(space)}`);
    const after = await hierarchy(bob, space);
    expect(after.body.rooms.map((r) => r.name)).toEqual(['Space', 'General', 'Sub', 'Deep', 'Members only']);
    expect((await hierarchy(bob, secret)).status).toBe(403);
  });

  it('pages with next_batch, and refuses a token used with other parameters', async () => {
    const names: string[] = [];
    let from: string | undefined;
    for (let page = 0; page < 10; page++) {
      const res = await hierarchy(alice, space, { limit: 2, ...(from !== undefined && { from }) });
      expect(res.status).toBe(200);
      await validHierarchy(res.body);
      expect(res.body.rooms.length).toBeLessThanOrEqual(2);
      names.push(...res.body.rooms.map((r) => r.name!));
      if (res.body.next_batch === undefined) break;
      from = res.body.next_batch;
      const changed = await hierarchy(alice, space, { limit: 2, from, suggested_only: true });
      expect(changed.status).toBe(400);
      expect(changed.body).toMatchObject({ errcode: 'M_INVALID_PARAM' });
    }
    expect(names).toEqual(['Space', 'General', 'Secret', 'Sub', 'Deep', 'Members only']);
    expect((await hierarchy(alice, space, { from: 'nonsense' })).status).toBe(400);
    expect((await hierarchy(alice, space, { limit: 0 })).status).toBe(400);
  });

  it('stops at max_depth and keeps to suggested children when asked', async () => {
    expect((await hierarchy(alice, space, { max_depth: 1 })).body.rooms.map((r) => r.name)).toEqual(['Space', 'General', 'Secret', 'Sub', 'Members only']);
    expect((await hierarchy(alice, space, { max_depth: 0 })).body.rooms.map((r) => r.name)).toEqual(['Space']);
    const suggested = await hierarchy(alice, space, { suggested_only: true });
    expect(suggested.body.rooms.map((r) => r.name)).toEqual(['Space', 'General']);
    expect(suggested.body.rooms[0]!.children_state.map((c) => c.state_key)).toEqual([general]);
  });

  it('is what matrix-js-sdk getRoomHierarchy reads', async () => {
    const client = sdk.createClient({ baseUrl: hs.url, userId: alice.userId, accessToken: alice.accessToken, deviceId: alice.deviceId });
    const first = await client.getRoomHierarchy(space, 3);
    expect(first.rooms.map((r) => r.name)).toEqual(['Space', 'General', 'Secret']);
    const rest = await client.getRoomHierarchy(space, 3, undefined, false, first.next_batch);
    expect(rest.rooms.map((r) => r.name)).toEqual(['Sub', 'Deep', 'Members only']);
    expect(rest.next_batch).toBeUndefined();
  });
});

describe('GET /timestamp_to_event', () => {
  it('finds the closest event the user may see, in either direction', async () => {
    const room = await create(alice, { preset: 'public_chat' });
    const sent: Array<{ id: string; ts: number }> = [];
    for (const n of [1, 2]) {
      const id = (await alice.http.ok<{ event_id: string }>('PUT', `/_matrix/client/v3/rooms/${enc(room)}/send/m.room.message/t${n}`, { body: { msgtype: 'm.text', body: `m${n}` } })).event_id;
      const ts = (await alice.http.ok<{ origin_server_ts: number }>('GET', `/_matrix/client/v3/rooms/${enc(room)}/event/${enc(id)}`)).origin_server_ts;
      sent.push({ id, ts });
      await new Promise((r) => setTimeout(r, 20));
    }
    const [m1, m2] = sent as [{ id: string; ts: number }, { id: string; ts: number }];
    const at = (ts: number, dir: string) => alice.http.request('GET', `/_matrix/client/v1/rooms/${enc(room)}/timestamp_to_event`, { query: { ts: String(ts), dir } });
    const back = await at(m2.ts - 1, 'b');
    expect(back.body).toEqual({ event_id: m1.id, origin_server_ts: m1.ts });
    if (spec) expect(await spec.validateResponse('client-server/room_event_by_timestamp.yaml', '/rooms/{roomId}/timestamp_to_event', 'get', 200, back.body)).toEqual([]);
    expect((await at(m1.ts + 1, 'f')).body).toEqual({ event_id: m2.id, origin_server_ts: m2.ts });
    const none = await at(m2.ts + 60_000, 'f');
    expect(none.status).toBe(404);
    expect(none.body).toMatchObject({ errcode: 'M_NOT_FOUND' });
    expect((await at(m1.ts, 'x')).status).toBe(400);
    const client = sdk.createClient({ baseUrl: hs.url, userId: alice.userId, accessToken: alice.accessToken, deviceId: alice.deviceId });
    expect(await client.timestampToEvent(room, m2.ts - 1, sdk.Direction.Backward)).toEqual({ event_id: m1.id, origin_server_ts: m1.ts });

    // Someone who may not read the room gets 403, not an event ID.
    expect((await bob.http.request('GET', `/_matrix/client/v1/rooms/${enc(secret)}/timestamp_to_event`, { query: { ts: String(m1.ts), dir: 'b' } })).status).toBe(403);
  });
});
