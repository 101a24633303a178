// Two embedded homeservers, a.test and b.test, on loopback with federation on and each other in `peers`:
// a user on B joins a room made on A (make_join/send_join v2 through A, the answer checked and stored
// on B), sees its state, the room's servers read each other's events, and leave again through
// make_leave/send_leave. Hostile send_joins (not a join, a bad signature, another room) are refused and
// leave nothing behind.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { join } from 'node:path';
import { loadOrCreateSigningKeys } from '../../../homeserver/federation/keys/SigningKeyFile.js';
import { eventIdOf } from '../../../homeserver/federation/pdu/EventHashes.js';
import { hashAndSignEvent } from '../../../homeserver/federation/pdu/EventSigning.js';
import type { Pdu } from '../../../homeserver/federation/pdu/Pdu.js';
import type { FederationClient } from '../../../homeserver/federation/transport/FederationClient.js';
import { enc, federationClientAs, federationRefusal, registerUser, SpecValidator, startServerPair, type TestHomeserver, type TestUser } from '../../harness/index.js';

const spec = SpecValidator.load();

let dir: string;
let a: TestHomeserver;
let b: TestHomeserver;
let stopServers: (() => Promise<void>) | undefined;
let alice: TestUser;
let bob: TestUser;
let dave: TestUser;
let roomId: string;
/** Requests signed as b.test (with B's own key), for what B's homeserver would never send. */
let asB: FederationClient;
let bKey: ReturnType<typeof loadOrCreateSigningKeys>['current'];

beforeAll(async () => {
  ({ a, b, dir, stop: stopServers } = await startServerPair({ name: 'fedjoin' }));
  alice = await registerUser(a.url, 'alice');
  bob = await registerUser(b.url, 'bob');
  bKey = loadOrCreateSigningKeys(join(dir, 'b.key')).current;
  asB = federationClientAs('b.test', bKey, { 'a.test': `http://127.0.0.1:${a.port}` });
  const created = await alice.http.ok<{ room_id: string }>('POST', '/_matrix/client/v3/createRoom', {
    body: { preset: 'public_chat', name: 'Across servers', topic: 'made on A' },
  });
  roomId = created.room_id;
  await alice.http.ok('PUT', `/_matrix/client/v3/rooms/${enc(roomId)}/send/m.room.message/t1`, { body: { msgtype: 'm.text', body: 'hello from A' } });
});

afterAll(async () => {
  await Promise.all([stopServers?.()]);
});

const members = async (user: TestUser, room: string): Promise<Record<string, string>> => {
  const res = await user.http.ok<{ chunk: Array<{ state_key: string; content: { membership: string } }> }>('GET', `/_matrix/client/v3/rooms/${enc(room)}/members`);
  return Object.fromEntries(res.chunk.map((e) => [e.state_key, e.content.membership]));
};

/** A join of `user` made from A's template and signed with B's key, as B would send it. */
async function signedJoinFromTemplate(user: string, mutate: (e: Record<string, unknown>) => void = () => {}): Promise<{ eventId: string; pdu: Pdu }> {
  const t = (await asB.request('a.test', 'GET', `/_matrix/federation/v1/make_join/${enc(roomId)}/${enc(user)}?ver=10&ver=11`)) as { room_version: '10'; event: Record<string, unknown> };
  const event = { ...t.event, origin_server_ts: Date.now() };
  mutate(event);
  const pdu = hashAndSignEvent(t.room_version, event, 'b.test', bKey) as unknown as Pdu;
  return { eventId: eventIdOf(t.room_version, pdu), pdu };
}

describe('make_join', () => {
  it('hands out a join template placed after the room’s latest event, as the spec says', async () => {
    const t = (await asB.request('a.test', 'GET', `/_matrix/federation/v1/make_join/${enc(roomId)}/${enc('@probe:b.test')}?ver=10&ver=11`)) as Record<string, unknown>;
    if (spec) expect(await spec.validateResponse('server-server/joins-v1.yaml', '/make_join/{roomId}/{userId}', 'get', 200, t)).toEqual([]);
    const event = t['event'] as Record<string, unknown>;
    expect(t['room_version']).toBe('10');
    expect(event).toMatchObject({ room_id: roomId, sender: '@probe:b.test', state_key: '@probe:b.test', type: 'm.room.member', content: { membership: 'join' } });
    expect((event['prev_events'] as string[]).length).toBe(1);
    expect((event['auth_events'] as string[]).length).toBe(3); // create, power levels, join rules
  });

  it('refuses a server without the room version (400 M_INCOMPATIBLE_ROOM_VERSION), another server’s user and an unknown room', async () => {
    expect(await federationRefusal(asB.request('a.test', 'GET', `/_matrix/federation/v1/make_join/${enc(roomId)}/${enc('@x:b.test')}?ver=9`))).toEqual({ status: 400, errcode: 'M_INCOMPATIBLE_ROOM_VERSION' });
    expect(await federationRefusal(asB.request('a.test', 'GET', `/_matrix/federation/v1/make_join/${enc(roomId)}/${enc('@x:a.test')}?ver=10`))).toEqual({ status: 403, errcode: 'M_FORBIDDEN' });
    expect(await federationRefusal(asB.request('a.test', 'GET', `/_matrix/federation/v1/make_join/${enc('!nope:a.test')}/${enc('@x:b.test')}?ver=10`))).toEqual({ status: 404, errcode: 'M_NOT_FOUND' });
  });

  it('refuses an unsigned request', async () => {
    const res = await fetch(`${a.url}/_matrix/federation/v1/make_join/${enc(roomId)}/${enc('@x:b.test')}?ver=10`);
    expect(res.status).toBe(401);
  });
});

describe('hostile send_join', () => {
  const send = (eventId: string, pdu: unknown, room = roomId) => asB.request('a.test', 'PUT', `/_matrix/federation/v2/send_join/${enc(room)}/${enc(eventId)}`, pdu);

  it('refuses an event that is not a join, a bad signature and an event for another room, and stores none of them', async () => {
    const notJoin = await signedJoinFromTemplate('@mallory:b.test', (e) => { e['content'] = { membership: 'leave' }; });
    expect(await federationRefusal(send(notJoin.eventId, notJoin.pdu))).toEqual({ status: 400, errcode: 'M_BAD_JSON' });

    const forged = await signedJoinFromTemplate('@mallory:b.test');
    const sig = forged.pdu.signatures['b.test']!;
    const keyId = Object.keys(sig)[0]!;
    const badSig = { ...forged.pdu, signatures: { 'b.test': { [keyId]: sig[keyId]!.replace(/^./, (c) => (c === 'A' ? 'B' : 'A')) } } };
    expect(await federationRefusal(send(forged.eventId, badSig))).toEqual({ status: 400, errcode: 'M_BAD_JSON' });

    const other = (await alice.http.ok<{ room_id: string }>('POST', '/_matrix/client/v3/createRoom', { body: { preset: 'public_chat' } })).room_id;
    const elsewhere = await signedJoinFromTemplate('@mallory:b.test');
    expect(await federationRefusal(send(elsewhere.eventId, elsewhere.pdu, other))).toEqual({ status: 400, errcode: 'M_BAD_JSON' });

    const wrongId = await signedJoinFromTemplate('@mallory:b.test');
    expect(await federationRefusal(send('$notitsid', wrongId.pdu))).toEqual({ status: 400, errcode: 'M_BAD_JSON' });

    expect((await members(alice, roomId))['@mallory:b.test']).toBeUndefined();
    expect((await members(alice, other))['@mallory:b.test']).toBeUndefined();
  });

  it('refuses a join of a user A’s server does not own (403)', async () => {
    const t = await signedJoinFromTemplate('@probe2:b.test', (e) => { e['sender'] = '@eve:a.test'; e['state_key'] = '@eve:a.test'; });
    expect(await federationRefusal(send(t.eventId, t.pdu))).toEqual({ status: 403, errcode: 'M_FORBIDDEN' });
  });
});

describe('a user on B joins a room made on A', () => {
  it('joins by room id with server_name and sees the room’s state on B', async () => {
    const joined = await bob.http.ok<{ room_id: string }>('POST', `/_matrix/client/v3/join/${enc(roomId)}`, { query: { server_name: 'a.test' } });
    expect(joined.room_id).toBe(roomId);

    const sync = await bob.http.ok<{ rooms: { join: Record<string, { state: { events: Array<{ type: string; content: Record<string, unknown> }> }; timeline: { events: Array<{ type: string; state_key?: string; content: Record<string, unknown> }> } }> } }>(
      'GET',
      '/_matrix/client/v3/sync',
    );
    const room = sync.rooms.join[roomId]!;
    const seen = [...room.state.events, ...room.timeline.events];
    expect(seen.find((e) => e.type === 'm.room.name')?.content).toEqual({ name: 'Across servers' });
    expect(seen.find((e) => e.type === 'm.room.topic')?.content).toMatchObject({ topic: 'made on A' });
    expect(await members(bob, roomId)).toEqual({ [alice.userId]: 'join', [bob.userId]: 'join' });
  });

  it('A has the join in the room’s state', async () => {
    expect(await members(alice, roomId)).toEqual({ [alice.userId]: 'join', [bob.userId]: 'join' });
  });

  it('answers send_join as the spec says: the state before the join, its auth chain and the event', async () => {
    const again = await signedJoinFromTemplate('@carol:b.test');
    const answer = (await asB.request('a.test', 'PUT', `/_matrix/federation/v2/send_join/${enc(roomId)}/${enc(again.eventId)}`, again.pdu)) as Record<string, unknown>;
    if (spec) expect(await spec.validateResponse('server-server/joins-v2.yaml', '/send_join/{roomId}/{eventId}', 'put', 200, answer)).toEqual([]);
    expect(answer['origin']).toBe('a.test');
    expect(answer['members_omitted']).toBe(false);
    const state = answer['state'] as Pdu[];
    const types = state.map((e) => `${e.type}|${e.state_key}`).sort();
    expect(types).toContain(`m.room.member|${bob.userId}`);
    expect(types).not.toContain('m.room.member|@carol:b.test');
    expect(types).toContain('m.room.create|');
    const authIds = new Set((answer['auth_chain'] as Pdu[]).map((e) => eventIdOf('10', e)));
    for (const id of again.pdu.auth_events) expect(authIds.has(id)).toBe(true);
    expect(eventIdOf('10', answer['event'] as Pdu)).toBe(again.eventId);
  });

  it('lets a server in the room read its events and state, and no other', async () => {
    const state = (await asB.request('a.test', 'GET', `/_matrix/federation/v1/state_ids/${enc(roomId)}?event_id=${enc((await lastEvent(alice)).event_id)}`)) as { pdu_ids: string[]; auth_chain_ids: string[] };
    if (spec) expect(await spec.validateResponse('server-server/events.yaml', '/state_ids/{roomId}', 'get', 200, state)).toEqual([]);
    expect(state.pdu_ids.length).toBeGreaterThan(5);
    const one = (await asB.request('a.test', 'GET', `/_matrix/federation/v1/event/${enc(state.pdu_ids[0]!)}`)) as { pdus: Pdu[] };
    expect(one.pdus.length).toBe(1);
    const back = (await asB.request('a.test', 'GET', `/_matrix/federation/v1/backfill/${enc(roomId)}?v=${enc((await lastEvent(alice)).event_id)}&limit=3`)) as { pdus: Pdu[] };
    if (spec) expect(await spec.validateResponse('server-server/backfill.yaml', '/backfill/{roomId}', 'get', 200, back)).toEqual([]);
    expect(back.pdus.length).toBe(3);
    const auth = (await asB.request('a.test', 'GET', `/_matrix/federation/v1/event_auth/${enc(roomId)}/${enc(state.pdu_ids[0]!)}`)) as { auth_chain: Pdu[] };
    expect(Array.isArray(auth.auth_chain)).toBe(true);
    // A room B has no member in.
    const privateRoom = (await alice.http.ok<{ room_id: string }>('POST', '/_matrix/client/v3/createRoom', { body: {} })).room_id;
    const ev = await lastEvent(alice, privateRoom);
    expect(await federationRefusal(asB.request('a.test', 'GET', `/_matrix/federation/v1/event/${enc(ev.event_id)}`))).toEqual({ status: 403, errcode: 'M_FORBIDDEN' });
  });

  it('leaves through make_leave/send_leave, and A sees the leave', async () => {
    await bob.http.ok('POST', `/_matrix/client/v3/rooms/${enc(roomId)}/leave`, { body: {} });
    expect((await members(alice, roomId))[bob.userId]).toBe('leave');
    const rooms = await bob.http.ok<{ joined_rooms: string[] }>('GET', '/_matrix/client/v3/joined_rooms');
    expect(rooms.joined_rooms).not.toContain(roomId);
  });
});

describe('invites across servers', () => {
  it('a user on B rejects an invite to a room B is not in, through A (make_leave/send_leave)', async () => {
    const erin = await registerUser(b.url, 'erin');
    await alice.http.ok('POST', `/_matrix/client/v3/rooms/${enc(roomId)}/invite`, { body: { user_id: erin.userId } });
    await erin.http.ok('POST', `/_matrix/client/v3/rooms/${enc(roomId)}/leave`, { body: {} });
    expect((await members(alice, roomId))[erin.userId]).toBe('leave');
    const sync = await erin.http.ok<{ rooms: { invite?: Record<string, unknown> } }>('GET', '/_matrix/client/v3/sync');
    expect(Object.keys(sync.rooms.invite ?? {})).not.toContain(roomId);
  });

  it('a user on A invites a user on B, who sees the invite with the room’s state and joins without server_name', async () => {
    dave = await registerUser(b.url, 'dave');
    await alice.http.ok('POST', `/_matrix/client/v3/rooms/${enc(roomId)}/invite`, { body: { user_id: dave.userId } });
    expect((await members(alice, roomId))[dave.userId]).toBe('invite');

    const sync = await dave.http.ok<{ rooms: { invite?: Record<string, { invite_state: { events: Array<{ type: string; content: Record<string, unknown> }> } }> } }>('GET', '/_matrix/client/v3/sync');
    const invited = sync.rooms.invite?.[roomId];
    expect(invited).toBeDefined();
    const types = invited!.invite_state.events.map((e) => e.type);
    expect(types).toContain('m.room.member');
    expect(invited!.invite_state.events.find((e) => e.type === 'm.room.name')?.content).toEqual({ name: 'Across servers' });

    await dave.http.ok('POST', `/_matrix/client/v3/rooms/${enc(roomId)}/join`, { body: {} });
    expect((await members(alice, roomId))[dave.userId]).toBe('join');
    expect((await members(dave, roomId))[dave.userId]).toBe('join');
  });

  it('createRoom with a user on B in `invite` invites them through B, as a direct chat', async () => {
    const fiona = await registerUser(b.url, 'fiona');
    const dm = (await alice.http.ok<{ room_id: string }>('POST', '/_matrix/client/v3/createRoom', { body: { invite: [fiona.userId], is_direct: true } })).room_id;
    expect((await members(alice, dm))[fiona.userId]).toBe('invite');
    const sync = await fiona.http.ok<{ rooms: { invite?: Record<string, { invite_state: { events: Array<{ type: string; state_key?: string; content: Record<string, unknown> }> } }> } }>('GET', '/_matrix/client/v3/sync');
    const own = sync.rooms.invite?.[dm]?.invite_state.events.find((e) => e.type === 'm.room.member' && e.state_key === fiona.userId);
    expect(own?.content).toMatchObject({ membership: 'invite', is_direct: true });
  });

  it('refuses an invite for a user B does not have', async () => {
    const res = await alice.http.request('POST', `/_matrix/client/v3/rooms/${enc(roomId)}/invite`, { body: { user_id: '@nobody:b.test' } });
    expect(res.status).toBe(404);
    expect((await members(alice, roomId))['@nobody:b.test']).toBeUndefined();
  });
});

describe('invite v2 from another server', () => {
  /** An invite signed with A's key, sent as a.test would send it. */
  async function sendInvite(target: string, room: string, mutate: (e: Record<string, unknown>) => void = () => {}): Promise<unknown> {
    const aKey = loadOrCreateSigningKeys(join(dir, 'a.key')).current;
    const asA = federationClientAs('a.test', aKey, { 'b.test': b.url });
    const event: Record<string, unknown> = { room_id: room, origin: 'a.test', sender: alice.userId, type: 'm.room.member', state_key: target, content: { membership: 'invite' }, origin_server_ts: Date.now(), depth: 50, prev_events: [], auth_events: [] };
    mutate(event);
    const pdu = hashAndSignEvent('10', event, 'a.test', aKey) as unknown as Pdu;
    const body = { room_version: '10', event: pdu, invite_room_state: [{ type: 'm.room.name', state_key: '', sender: alice.userId, content: { name: 'Across servers' } }] };
    return asA.request('b.test', 'PUT', `/_matrix/federation/v2/invite/${enc(room)}/${enc(eventIdOf('10', pdu))}`, body);
  }

  it('B co-signs an invite of its user to a room B is not in and answers as the spec says', async () => {
    const frank = await registerUser(b.url, 'frank');
    const elsewhere = '!elsewhere:a.test';
    const answer = (await sendInvite(frank.userId, elsewhere)) as { event: Pdu };
    if (spec) expect(await spec.validateResponse('server-server/invites-v2.yaml', '/invite/{roomId}/{eventId}', 'put', 200, answer)).toEqual([]);
    expect(Object.keys(answer.event.signatures).sort()).toEqual(['a.test', 'b.test']);
    const sync = await frank.http.ok<{ rooms: { invite?: Record<string, unknown> } }>('GET', '/_matrix/client/v3/sync');
    expect(Object.keys(sync.rooms.invite ?? {})).toContain(elsewhere);
  });

  it('refuses an invite of a user B does not have (404), one sent for another server’s user (403), and one the auth rules of a room B is in do not allow (403)', async () => {
    expect(await federationRefusal(sendInvite('@ghost:b.test', '!elsewhere2:a.test'))).toEqual({ status: 404, errcode: 'M_NOT_FOUND' });
    expect(await federationRefusal(sendInvite('@frank:b.test', '!elsewhere2:a.test', (e) => { e['sender'] = '@eve:b.test'; }))).toEqual({ status: 403, errcode: 'M_FORBIDDEN' });
    const grace = await registerUser(b.url, 'grace');
    expect(await federationRefusal(sendInvite(grace.userId, roomId))).toEqual({ status: 403, errcode: 'M_FORBIDDEN' });
    expect((await members(dave, roomId))[grace.userId]).toBeUndefined();
  });
});

async function lastEvent(user: TestUser, room = roomId): Promise<{ event_id: string }> {
  const res = await user.http.ok<{ chunk: Array<{ event_id: string }> }>('GET', `/_matrix/client/v3/rooms/${enc(room)}/messages`, { query: { dir: 'b', limit: 1 } });
  return res.chunk[0]!;
}
