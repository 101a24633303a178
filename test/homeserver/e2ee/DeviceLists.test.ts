// device_lists in /sync and /keys/changes: who is told to re-fetch whose keys (changed) and who may stop
// tracking whom (left), for the right users only: key uploads, new and deleted devices, cross-signing
// keys, joins and leaves; a waiting /sync wakes for them.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { enc, loginUser, registerUser, startTestHomeserver, type TestHomeserver, type TestUser } from '../../harness/index.js';
import { conforms, crossSigningKeys, deviceKeys, sync, type SyncBody } from './e2eeFixtures.js';

describe('device lists', () => {
  let hs: TestHomeserver;
  let alice: TestUser;
  let bob: TestUser;
  let carol: TestUser;
  let roomId: string;

  const createRoom = async (user: TestUser, invite: TestUser[] = []): Promise<string> =>
    (await user.http.ok<{ room_id: string }>('POST', '/createRoom', { body: { preset: 'public_chat', invite: invite.map((u) => u.userId) } })).room_id;
  const join = (user: TestUser, room: string) => user.http.ok('POST', `/join/${enc(room)}`, { body: {} });
  const leave = (user: TestUser, room: string) => user.http.ok('POST', `/rooms/${enc(room)}/leave`, { body: {} });
  const uploadKeys = (user: TestUser) => user.http.ok('POST', '/keys/upload', { body: { device_keys: deviceKeys(user) } });
  const lists = (s: SyncBody) => ({ changed: s.device_lists?.changed ?? [], left: s.device_lists?.left ?? [] });

  beforeAll(async () => {
    hs = await startTestHomeserver();
    alice = await registerUser(hs.url, 'alice');
    bob = await registerUser(hs.url, 'bob');
    carol = await registerUser(hs.url, 'carol');
    roomId = await createRoom(alice);
    await join(bob, roomId);
  });
  afterAll(() => hs?.stop());

  it('tells users who share a room about a key upload, and the uploader, but nobody else', async () => {
    const [a, b, c] = await Promise.all([sync(alice), sync(bob), sync(carol)]);
    await uploadKeys(bob);
    expect(lists(await sync(alice, a.next_batch))).toEqual({ changed: [bob.userId], left: [] });
    expect(lists(await sync(bob, b.next_batch))).toEqual({ changed: [bob.userId], left: [] });
    expect(lists(await sync(carol, c.next_batch))).toEqual({ changed: [], left: [] });
    // An initial sync reports no changes (there is nothing to compare with).
    expect(lists(await sync(alice))).toEqual({ changed: [], left: [] });
  });

  it('wakes a waiting /sync of someone sharing a room when keys change', async () => {
    const a = await sync(alice);
    const waiting = sync(alice, a.next_batch, 30_000);
    await new Promise((r) => setTimeout(r, 50));
    const bobPhone = await loginUser(hs.url, 'bob');
    await uploadKeys(bobPhone);
    expect(lists(await waiting).changed).toEqual([bob.userId]);
  });

  it('reports a newcomer to the room as changed, and someone who left every shared room as left', async () => {
    const a = await sync(alice);
    await join(carol, roomId);
    const afterJoin = await sync(alice, a.next_batch);
    expect(lists(afterJoin)).toEqual({ changed: [carol.userId], left: [] });
    await leave(carol, roomId);
    expect(lists(await sync(alice, afterJoin.next_batch))).toEqual({ changed: [], left: [carol.userId] });
  });

  it('does not report as left someone who still shares another room', async () => {
    const other = await createRoom(alice);
    await join(carol, other);
    await join(carol, roomId);
    const a = await sync(alice);
    await leave(carol, roomId);
    expect(lists(await sync(alice, a.next_batch))).toEqual({ changed: [], left: [] });
    await leave(carol, other);
  });

  it('reports everyone in a room the user joins as changed, and everyone there as left when they leave it', async () => {
    const dave = await registerUser(hs.url, 'dave');
    const c = await sync(carol);
    await join(carol, roomId);
    expect(lists(await sync(carol, c.next_batch)).changed).toEqual([alice.userId, bob.userId].sort());
    const daveRoom = await createRoom(dave, [carol]);
    const c2 = await sync(carol);
    await join(carol, daveRoom);
    const joined = await sync(carol, c2.next_batch);
    expect(lists(joined)).toEqual({ changed: [dave.userId], left: [] });
    await leave(carol, daveRoom);
    expect(lists(await sync(carol, joined.next_batch))).toEqual({ changed: [], left: [dave.userId] });
    await leave(carol, roomId);
  });

  it('counts an invited user as sharing the room', async () => {
    const erin = await registerUser(hs.url, 'erin');
    const a = await sync(alice);
    await alice.http.ok('POST', `/rooms/${enc(roomId)}/invite`, { body: { user_id: erin.userId } });
    const s = await sync(alice, a.next_batch);
    expect(lists(s).changed).toEqual([erin.userId]);
    await uploadKeys(erin);
    expect(lists(await sync(alice, s.next_batch)).changed).toEqual([erin.userId]);
  });

  it('tells peers when a device is deleted, and only when it existed', async () => {
    const tablet = await loginUser(hs.url, 'bob');
    await uploadKeys(tablet);
    const a = await sync(alice);
    await bob.http.ok('POST', '/delete_devices', {
      body: { devices: [tablet.deviceId], auth: { type: 'm.login.password', identifier: { type: 'm.id.user', user: bob.userId }, password: bob.password } },
    });
    const s = await sync(alice, a.next_batch);
    expect(lists(s).changed).toEqual([bob.userId]);
    await bob.http.ok('POST', '/delete_devices', {
      body: { devices: ['NEVEREXISTED'], auth: { type: 'm.login.password', identifier: { type: 'm.id.user', user: bob.userId }, password: bob.password } },
    });
    expect(lists(await sync(alice, s.next_batch)).changed).toEqual([]);
  });

  it('tells peers about new cross-signing keys', async () => {
    const a = await sync(alice);
    const keys = crossSigningKeys(bob.userId);
    await bob.http.ok('POST', '/keys/device_signing/upload', {
      body: { master_key: keys.master_key, self_signing_key: keys.self_signing_key, user_signing_key: keys.user_signing_key },
    });
    expect(lists(await sync(alice, a.next_batch)).changed).toEqual([bob.userId]);
  });

  it('answers /keys/changes for a range of sync tokens as /sync does', async () => {
    const from = (await sync(alice)).next_batch;
    const bobLaptop = await loginUser(hs.url, 'bob');
    await uploadKeys(bobLaptop);
    const to = (await sync(alice)).next_batch;
    // Changes after `to` neither add users nor hide bob's change inside the range.
    await uploadKeys(await loginUser(hs.url, 'carol'));
    await uploadKeys(bobLaptop);
    const res = await alice.http.get('/keys/changes', { query: { from, to } });
    expect(await conforms('client-server/keys.yaml', '/keys/changes', 'get', res)).toEqual({ changed: [bob.userId], left: [] });
    const missing = await alice.http.get('/keys/changes', { query: { to } });
    expect(missing.status).toBe(400);
    expect(missing.body).toMatchObject({ errcode: 'M_MISSING_PARAM' });
    const bad = await alice.http.get('/keys/changes', { query: { from: 'nonsense', to } });
    expect(bad.body).toMatchObject({ errcode: 'M_INVALID_PARAM' });
  });
});
