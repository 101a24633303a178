// Room upgrades as clients use them: matrix-js-sdk upgrades a room and another client follows the
// tombstone into the replacement (the SDK links the two rooms through the predecessor); raw HTTP checks
// what moves (state, power levels, bans, aliases, the directory listing) and the errors the spec names.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as sdk from 'matrix-js-sdk';
import {
  enc,
  registerUser,
  SpecValidator,
  startSdkClient,
  startTestHomeserver,
  waitFor,
  type JsonObject,
  type TestHomeserver,
  type TestUser,
} from '../../harness/index.js';

const spec = SpecValidator.load();

describe('room upgrades', () => {
  let hs: TestHomeserver;
  let alice: TestUser;
  let bob: TestUser;
  let mallory: TestUser;
  const clients: sdk.MatrixClient[] = [];

  const state = async (user: TestUser, roomId: string, type: string, stateKey = ''): Promise<JsonObject> =>
    user.http.ok<JsonObject>('GET', `/rooms/${enc(roomId)}/state/${type}/${enc(stateKey)}`);

  async function upgrade(user: TestUser, roomId: string, body: JsonObject): Promise<{ status: number; body: JsonObject }> {
    const res = await user.http.request<JsonObject>('POST', `/rooms/${enc(roomId)}/upgrade`, { body });
    if (spec) expect(await spec.validateResponse('client-server/room_upgrades.yaml', '/rooms/{roomId}/upgrade', 'post', res.status, res.body)).toEqual([]);
    return res;
  }

  beforeAll(async () => {
    hs = await startTestHomeserver();
    alice = await registerUser(hs.url, 'alice');
    bob = await registerUser(hs.url, 'bob');
    mallory = await registerUser(hs.url, 'mallory');
  });

  afterAll(async () => {
    for (const c of clients) c.stopClient();
    await hs?.stop();
  });

  it('matrix-js-sdk upgrades a room; a second client follows the tombstone and sees the rooms linked', async () => {
    const aliceSdk = await startSdkClient(hs.url, alice);
    const bobSdk = await startSdkClient(hs.url, bob);
    clients.push(aliceSdk, bobSdk);
    const { room_id: oldRoom } = await aliceSdk.createRoom({ preset: sdk.Preset.PrivateChat, name: 'Ops', invite: [bob.userId] });
    await waitFor(() => bobSdk.getRoom(oldRoom), 20_000, 'the invite at bob');
    await bobSdk.joinRoom(oldRoom);
    const { replacement_room: newRoom } = await aliceSdk.upgradeRoom(oldRoom, '11');
    const tombstone = await waitFor(() => bobSdk.getRoom(oldRoom)?.currentState.getStateEvents(sdk.EventType.RoomTombstone, ''), 20_000, 'the tombstone at bob');
    expect(tombstone.getContent()['replacement_room']).toBe(newRoom);
    // A private room: bob was invited to the replacement, so following the tombstone works.
    await waitFor(() => bobSdk.getRoom(newRoom)?.getMyMembership() === sdk.KnownMembership.Invite || null, 20_000, 'the invite to the replacement');
    await bobSdk.joinRoom(newRoom);
    await waitFor(() => bobSdk.getRoom(newRoom)?.getMyMembership() === sdk.KnownMembership.Join || null, 20_000, 'bob in the replacement');
    expect(bobSdk.getRoomUpgradeHistory(oldRoom, true).map((r) => r.roomId)).toEqual([oldRoom, newRoom]);
    expect(bobSdk.getRoom(newRoom)!.name).toBe('Ops');
    expect(bobSdk.getRoom(newRoom)!.getVersion()).toBe('11');
    await bobSdk.sendTextMessage(newRoom, 'made it across');
    await waitFor(() => aliceSdk.getRoom(newRoom)?.getLiveTimeline().getEvents().find((e) => e.getContent().body === 'made it across'), 20_000, 'the message at alice');
  });

  it('copies settings, power levels and bans, moves aliases and the directory listing, and restricts the old room', async () => {
    const aliasName = `harbour${Date.now()}`;
    const oldRoom = (
      await alice.http.ok<{ room_id: string }>('POST', '/createRoom', {
        body: { preset: 'public_chat', visibility: 'public', room_alias_name: aliasName, name: 'Harbour', topic: 'boats' },
      })
    ).room_id;
    const alias = `#${aliasName}:${hs.serverName}`;
    const alt = `#${aliasName}-alt:${hs.serverName}`;
    await alice.http.ok('PUT', `/directory/room/${enc(alt)}`, { body: { room_id: oldRoom } });
    await alice.http.ok('PUT', `/rooms/${enc(oldRoom)}/state/m.room.canonical_alias/`, { body: { alias, alt_aliases: [alt] } });
    await bob.http.ok('POST', `/rooms/${enc(oldRoom)}/join`, { body: {} });
    await mallory.http.ok('POST', `/rooms/${enc(oldRoom)}/join`, { body: {} });
    const levels = await state(alice, oldRoom, 'm.room.power_levels');
    await alice.http.ok('PUT', `/rooms/${enc(oldRoom)}/state/m.room.power_levels/`, { body: { ...levels, users: { ...(levels['users'] as JsonObject), [bob.userId]: 60 } } });
    await alice.http.ok('PUT', `/rooms/${enc(oldRoom)}/state/m.room.history_visibility/`, { body: { history_visibility: 'joined' } });
    await alice.http.ok('POST', `/rooms/${enc(oldRoom)}/ban`, { body: { user_id: mallory.userId, reason: 'spam' } });

    // Bob (60) may not send the tombstone (100).
    const denied = await upgrade(bob, oldRoom, { new_version: '11' });
    expect([denied.status, denied.body['errcode']]).toEqual([403, 'M_FORBIDDEN']);
    const unsupported = await upgrade(alice, oldRoom, { new_version: '1' });
    expect([unsupported.status, unsupported.body['errcode']]).toEqual([400, 'M_UNSUPPORTED_ROOM_VERSION']);
    const missing = await alice.http.request<JsonObject>('POST', `/rooms/${enc(oldRoom)}/upgrade`, { body: {} });
    expect([missing.status, missing.body['errcode']]).toEqual([400, 'M_MISSING_PARAM']);

    const done = await upgrade(alice, oldRoom, { new_version: '11' });
    expect(done.status).toBe(200);
    const newRoom = String(done.body['replacement_room']);

    const tombstone = await state(bob, oldRoom, 'm.room.tombstone');
    expect(tombstone['replacement_room']).toBe(newRoom);
    const create = await state(alice, newRoom, 'm.room.create');
    expect(create).toMatchObject({ room_version: '11', predecessor: { room_id: oldRoom } });
    const created = await alice.http.ok<{ chunk: Array<{ type: string; event_id: string }> }>('GET', `/rooms/${enc(oldRoom)}/messages`, { query: { dir: 'b', limit: 5 } });
    expect((create['predecessor'] as JsonObject)['event_id']).toBe(created.chunk.find((e) => e.type === 'm.room.tombstone')?.event_id);

    expect(await state(alice, newRoom, 'm.room.name')).toEqual({ name: 'Harbour' });
    expect((await state(alice, newRoom, 'm.room.topic'))['topic']).toBe('boats');
    expect(await state(alice, newRoom, 'm.room.join_rules')).toEqual({ join_rule: 'public' });
    expect(await state(alice, newRoom, 'm.room.history_visibility')).toEqual({ history_visibility: 'joined' });
    const newLevels = await state(alice, newRoom, 'm.room.power_levels');
    expect(newLevels['users']).toEqual({ [alice.userId]: 100, [bob.userId]: 60 });
    expect(await state(alice, newRoom, 'm.room.member', mallory.userId)).toMatchObject({ membership: 'ban', reason: 'spam' });
    expect((await mallory.http.request('POST', `/rooms/${enc(newRoom)}/join`, { body: {} })).status).toBe(403);

    // Aliases and the directory now lead to the new room.
    expect((await bob.http.ok<{ room_id: string }>('GET', `/directory/room/${enc(alias)}`)).room_id).toBe(newRoom);
    expect((await bob.http.ok<{ room_id: string }>('GET', `/directory/room/${enc(alt)}`)).room_id).toBe(newRoom);
    expect(await state(alice, newRoom, 'm.room.canonical_alias')).toEqual({ alias, alt_aliases: [alt] });
    expect(await state(alice, oldRoom, 'm.room.canonical_alias')).toEqual({});
    expect((await bob.http.ok<{ visibility: string }>('GET', `/directory/list/room/${enc(newRoom)}`)).visibility).toBe('public');
    expect((await bob.http.ok<{ visibility: string }>('GET', `/directory/list/room/${enc(oldRoom)}`)).visibility).toBe('private');
    const listed = await bob.http.ok<{ chunk: Array<{ room_id: string }> }>('GET', '/publicRooms');
    expect(listed.chunk.map((r) => r.room_id)).toContain(newRoom);
    expect(listed.chunk.map((r) => r.room_id)).not.toContain(oldRoom);

    // The old room: ordinary members can no longer talk or invite; it cannot be upgraded twice.
    const oldLevels = await state(alice, oldRoom, 'm.room.power_levels');
    expect([oldLevels['events_default'], oldLevels['invite']]).toEqual([50, 50]);
    const carol = await registerUser(hs.url, 'carol');
    await carol.http.ok('POST', `/rooms/${enc(oldRoom)}/join`, { body: {} });
    const talk = await carol.http.request('PUT', `/rooms/${enc(oldRoom)}/send/m.room.message/t1`, { body: { msgtype: 'm.text', body: 'hello?' } });
    expect(talk.status).toBe(403);
    const again = await upgrade(alice, oldRoom, { new_version: '11' });
    expect([again.status, again.body['errcode']]).toEqual([400, 'M_BAD_STATE']);
    // A public replacement invites nobody: people join it as they joined the old one.
    expect((await alice.http.request('GET', `/rooms/${enc(newRoom)}/state/m.room.member/${enc(bob.userId)}`)).status).toBe(404);
  });

  it('refuses a user who is not in the room, and an unknown room', async () => {
    const room = (await alice.http.ok<{ room_id: string }>('POST', '/createRoom', { body: {} })).room_id;
    const outsider = await upgrade(bob, room, { new_version: '10' });
    expect([outsider.status, outsider.body['errcode']]).toEqual([403, 'M_FORBIDDEN']);
    const unknown = await upgrade(alice, `!nope:${hs.serverName}`, { new_version: '10' });
    expect([unknown.status, unknown.body['errcode']]).toEqual([403, 'M_FORBIDDEN']);
  });
});
