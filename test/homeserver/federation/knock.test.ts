// Knocking (room versions 10 and 11, join rule "knock"): a user asks to be let in with POST /knock,
// sees the room under rooms.knock in /sync, and a member who may invite lets them in with an invite or
// turns them away with a kick. Locally on a.test, and from b.test through make_knock/send_knock.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { join } from 'node:path';
import { loadOrCreateSigningKeys } from '../../../homeserver/federation/keys/SigningKeyFile.js';
import { eventIdOf } from '../../../homeserver/federation/pdu/EventHashes.js';
import { hashAndSignEvent } from '../../../homeserver/federation/pdu/EventSigning.js';
import type { Pdu } from '../../../homeserver/federation/pdu/Pdu.js';
import { FederationRequestError } from '../../../homeserver/federation/transport/FederationClient.js';
import { enc, federationClientAs, registerUser, SpecValidator, startSdkClient, startServerPair, type TestHomeserver, type TestUser, waitFor } from '../../harness/index.js';

const spec = SpecValidator.load();

let dir: string;
let a: TestHomeserver;
let b: TestHomeserver;
let stopServers: (() => Promise<void>) | undefined;
let alice: TestUser;
let roomId: string;

beforeAll(async () => {
  ({ a, b, dir, stop: stopServers } = await startServerPair({ name: 'fedknock' }));
  alice = await registerUser(a.url, 'alice');
  roomId = (await alice.http.ok<{ room_id: string }>('POST', '/_matrix/client/v3/createRoom', {
    body: { name: 'Knock first', room_alias_name: 'door', initial_state: [{ type: 'm.room.join_rules', state_key: '', content: { join_rule: 'knock' } }] },
  })).room_id;
});

afterAll(async () => {
  await Promise.all([stopServers?.()]);
});

type Stripped = { type: string; state_key: string; sender: string; content: Record<string, unknown> };
type SyncRooms = { rooms: { knock?: Record<string, { knock_state: { events: Stripped[] } }>; invite?: Record<string, unknown>; join?: Record<string, unknown> } };

const membershipOn = async (viewer: TestUser, userId: string): Promise<string | undefined> => {
  const res = await viewer.http.ok<{ chunk: Array<{ state_key: string; content: { membership: string } }> }>('GET', `/_matrix/client/v3/rooms/${enc(roomId)}/members`);
  return res.chunk.find((e) => e.state_key === userId)?.content.membership;
};

async function expectKnockInSync(user: TestUser): Promise<Stripped[]> {
  const sync = await user.http.ok<SyncRooms>('GET', '/_matrix/client/v3/sync');
  if (spec) expect(await spec.validateResponse('client-server/sync.yaml', '/sync', 'get', 200, sync)).toEqual([]);
  const knocked = sync.rooms.knock?.[roomId];
  expect(knocked).toBeDefined();
  const events = knocked!.knock_state.events;
  expect(events.find((e) => e.type === 'm.room.join_rules')?.content).toEqual({ join_rule: 'knock' });
  expect(events.find((e) => e.type === 'm.room.name')?.content).toEqual({ name: 'Knock first' });
  expect(events.find((e) => e.type === 'm.room.member' && e.state_key === user.userId)?.content).toMatchObject({ membership: 'knock' });
  return events;
}

describe('knocking on a room of this server', () => {
  it('a user knocks with a reason, sees the room under rooms.knock, and cannot join before being let in', async () => {
    const carol = await registerUser(a.url, 'carol');
    const answer = await carol.http.ok<{ room_id: string }>('POST', `/_matrix/client/v3/knock/${enc(roomId)}`, { body: { reason: 'let me in' } });
    if (spec) expect(await spec.validateResponse('client-server/knocking.yaml', '/knock/{roomIdOrAlias}', 'post', 200, answer)).toEqual([]);
    expect(answer.room_id).toBe(roomId);
    await expectKnockInSync(carol);
    expect(await membershipOn(alice, carol.userId)).toBe('knock');
    expect((await carol.http.request('POST', `/_matrix/client/v3/join/${enc(roomId)}`, { body: {} })).status).toBe(403);

    // Let in: an invite, then a join.
    await alice.http.ok('POST', `/_matrix/client/v3/rooms/${enc(roomId)}/invite`, { body: { user_id: carol.userId } });
    const sync = await carol.http.ok<SyncRooms>('GET', '/_matrix/client/v3/sync');
    expect(sync.rooms.invite?.[roomId]).toBeDefined();
    expect(sync.rooms.knock?.[roomId]).toBeUndefined();
    await carol.http.ok('POST', `/_matrix/client/v3/join/${enc(roomId)}`, { body: {} });
    expect(await membershipOn(alice, carol.userId)).toBe('join');
  });

  it('a kick turns a knock away', async () => {
    const dan = await registerUser(a.url, 'dan');
    await dan.http.ok('POST', `/_matrix/client/v3/knock/${enc('#door:a.test')}`, { body: {} });
    expect(await membershipOn(alice, dan.userId)).toBe('knock');
    await alice.http.ok('POST', `/_matrix/client/v3/rooms/${enc(roomId)}/kick`, { body: { user_id: dan.userId, reason: 'not today' } });
    expect(await membershipOn(alice, dan.userId)).toBe('leave');
    const sync = await dan.http.ok<SyncRooms>('GET', '/_matrix/client/v3/sync');
    expect(sync.rooms.knock?.[roomId]).toBeUndefined();
  });

  it('refuses a knock on a room whose join rule is not knock (403), and on an unknown room (404)', async () => {
    const open = (await alice.http.ok<{ room_id: string }>('POST', '/_matrix/client/v3/createRoom', { body: { preset: 'public_chat' } })).room_id;
    const erin = await registerUser(a.url, 'erin');
    const refused = await erin.http.request('POST', `/_matrix/client/v3/knock/${enc(open)}`, { body: {} });
    expect(refused.status).toBe(403);
    expect((refused.body as { errcode: string }).errcode).toBe('M_FORBIDDEN');
    expect((await erin.http.request('POST', `/_matrix/client/v3/knock/${enc('!nothing:a.test')}`, { body: {} })).status).toBe(404);
  });
});

describe('knocking from another server', () => {
  it('make_knock and send_knock answer as the spec says, and make_knock refuses a server without the room version', async () => {
    const bKey = loadOrCreateSigningKeys(join(dir, 'b.key')).current;
    const asB = federationClientAs('b.test', bKey, { 'a.test': a.url });
    const t = (await asB.request('a.test', 'GET', `/_matrix/federation/v1/make_knock/${enc(roomId)}/${enc('@probe:b.test')}?ver=10&ver=11`)) as { event: Record<string, unknown> };
    if (spec) expect(await spec.validateResponse('server-server/knocks.yaml', '/make_knock/{roomId}/{userId}', 'get', 200, t)).toEqual([]);
    expect(t.event).toMatchObject({ room_id: roomId, sender: '@probe:b.test', state_key: '@probe:b.test', type: 'm.room.member', content: { membership: 'knock' } });
    const old = await asB.request('a.test', 'GET', `/_matrix/federation/v1/make_knock/${enc(roomId)}/${enc('@probe:b.test')}?ver=9`).catch((err: unknown) => err);
    expect(old).toBeInstanceOf(FederationRequestError);
    expect((old as FederationRequestError).errcode).toBe('M_INCOMPATIBLE_ROOM_VERSION');

    // send_knock answers the room's describing state as signed PDUs, the create event among them.
    const pdu = hashAndSignEvent('10', { ...t.event, origin_server_ts: Date.now() }, 'b.test', bKey) as unknown as Pdu;
    const answer = (await asB.request('a.test', 'PUT', `/_matrix/federation/v1/send_knock/${enc(roomId)}/${enc(eventIdOf('10', pdu))}`, pdu)) as { knock_room_state: Pdu[] };
    if (spec) expect(await spec.validateResponse('server-server/knocks.yaml', '/send_knock/{roomId}/{eventId}', 'put', 200, answer)).toEqual([]);
    expect(answer.knock_room_state.map((e) => e.type).sort()).toEqual(['m.room.canonical_alias', 'm.room.create', 'm.room.join_rules', 'm.room.name']);
    expect(answer.knock_room_state.every((e) => e.signatures['a.test'] !== undefined)).toBe(true);
    expect(await membershipOn(alice, '@probe:b.test')).toBe('knock');
  });

  it('a knock from B turned away on A: the kick reaches B, and the user on B no longer sees the knock', async () => {
    const gus = await registerUser(b.url, 'gus');
    await gus.http.ok('POST', `/_matrix/client/v3/knock/${enc(roomId)}`, { query: { via: 'a.test' }, body: {} });
    await alice.http.ok('POST', `/_matrix/client/v3/rooms/${enc(roomId)}/kick`, { body: { user_id: gus.userId, reason: 'not today' } });
    expect(await membershipOn(alice, gus.userId)).toBe('leave');
    await waitFor(async () => (await gus.http.ok<SyncRooms>('GET', '/_matrix/client/v3/sync')).rooms.knock?.[roomId] === undefined, 20_000, 'the kick on B');
    // Leaving it now changes nothing.
    await gus.http.ok('POST', `/_matrix/client/v3/rooms/${enc(roomId)}/leave`, { body: {} });
  });

  it('B takes the end of a knock only from the room’s server, signed by it, about a knocking user', async () => {
    const jo = await registerUser(b.url, 'jo');
    await jo.http.ok('POST', `/_matrix/client/v3/knock/${enc(roomId)}`, { query: { via: 'a.test' }, body: {} });
    const aKey = loadOrCreateSigningKeys(join(dir, 'a.key')).current;
    const asA = federationClientAs('a.test', aKey, { 'b.test': b.url });
    const kick = (fields: Record<string, unknown>) => hashAndSignEvent('10', {
      room_id: roomId, sender: alice.userId, type: 'm.room.member', state_key: jo.userId, content: { membership: 'leave' },
      origin_server_ts: Date.now(), depth: 100, prev_events: [], auth_events: [], ...fields,
    }, 'a.test', aKey) as unknown as Pdu;
    const forged = kick({ sender: '@mallory:c.test' });
    const unsigned = { ...kick({}), signatures: {} };
    const notKnocking = kick({ state_key: (await registerUser(b.url, 'kim')).userId });
    const answer = (await asA.request('b.test', 'PUT', `/_matrix/federation/v1/send/oob${Date.now()}`, { origin: 'a.test', origin_server_ts: Date.now(), pdus: [forged, unsigned, notKnocking] })) as { pdus: Record<string, { error?: string }> };
    expect(Object.values(answer.pdus).map((r) => typeof r.error)).toEqual(['string', 'string', 'string']);
    const sync = await jo.http.ok<SyncRooms>('GET', '/_matrix/client/v3/sync');
    expect(sync.rooms.knock?.[roomId]).toBeDefined();
  });

  it('a knock no server of the room takes the leave of (B denied by the room’s ACL) is declined on B only', async () => {
    const ian = await registerUser(b.url, 'ian');
    await ian.http.ok('POST', `/_matrix/client/v3/knock/${enc(roomId)}`, { query: { via: 'a.test' }, body: {} });
    await alice.http.ok('PUT', `/_matrix/client/v3/rooms/${enc(roomId)}/state/m.room.server_acl/`, { body: { allow: ['*'], deny: ['b.test'] } });
    try {
      await ian.http.ok('POST', `/_matrix/client/v3/rooms/${enc(roomId)}/leave`, { body: {} });
      const sync = await ian.http.ok<SyncRooms>('GET', '/_matrix/client/v3/sync');
      expect(sync.rooms.knock?.[roomId]).toBeUndefined();
      expect(await membershipOn(alice, ian.userId)).toBe('knock');
    } finally {
      await alice.http.ok('PUT', `/_matrix/client/v3/rooms/${enc(roomId)}/state/m.room.server_acl/`, { body: { allow: ['*'] } });
    }
  });

  it('a user on B withdraws a knock by leaving, through A', async () => {
    const fay = await registerUser(b.url, 'fay');
    await fay.http.ok('POST', `/_matrix/client/v3/knock/${enc('#door:a.test')}`, { body: {} });
    expect(await membershipOn(alice, fay.userId)).toBe('knock');
    await fay.http.ok('POST', `/_matrix/client/v3/rooms/${enc(roomId)}/leave`, { body: {} });
    expect(await membershipOn(alice, fay.userId)).toBe('leave');
    const sync = await fay.http.ok<SyncRooms>('GET', '/_matrix/client/v3/sync');
    expect(sync.rooms.knock?.[roomId]).toBeUndefined();
  });
  it('matrix-js-sdk on B knocks by alias, shows the room as knocked, then invited, then joined', async () => {
    const hana = await registerUser(b.url, 'hana');
    const client = await startSdkClient(b.url, hana);
    try {
      const knocked = await client.knockRoom('#door:a.test', { reason: 'hello' });
      expect(knocked.room_id).toBe(roomId);
      const membership = () => client.getRoom(roomId)?.getMyMembership();
      await waitFor(() => membership() === 'knock', 20_000, 'the knock in the SDK');
      expect(client.getRoom(roomId)?.name).toBe('Knock first');
      await alice.http.ok('POST', `/_matrix/client/v3/rooms/${enc(roomId)}/invite`, { body: { user_id: hana.userId } });
      await waitFor(() => membership() === 'invite', 20_000, 'the invite in the SDK');
      await client.joinRoom(roomId);
      await waitFor(() => membership() === 'join', 20_000, 'the join in the SDK');
      expect(await membershipOn(alice, hana.userId)).toBe('join');
    } finally {
      client.stopClient();
    }
  });

  it('with B in the room (a user of B joined), a knock from B is a room event sent to A, and the invite and join follow', async () => {
    const bob = await registerUser(b.url, 'bob');
    const answer = await bob.http.ok<{ room_id: string }>('POST', `/_matrix/client/v3/knock/${enc(roomId)}`, { query: { server_name: 'a.test' }, body: { reason: 'from B' } });
    expect(answer.room_id).toBe(roomId);
    await expectKnockInSync(bob);
    expect(await membershipOn(alice, bob.userId)).toBe('knock');

    await alice.http.ok('POST', `/_matrix/client/v3/rooms/${enc(roomId)}/invite`, { body: { user_id: bob.userId } });
    const sync = await bob.http.ok<SyncRooms>('GET', '/_matrix/client/v3/sync');
    expect(sync.rooms.invite?.[roomId]).toBeDefined();
    expect(sync.rooms.knock?.[roomId]).toBeUndefined();
    await bob.http.ok('POST', `/_matrix/client/v3/join/${enc(roomId)}`, { body: {} });
    expect(await membershipOn(alice, bob.userId)).toBe('join');
    await alice.http.ok('PUT', `/_matrix/client/v3/rooms/${enc(roomId)}/send/m.room.message/m1`, { body: { msgtype: 'm.text', body: 'come in' } });
    await waitFor(async () => {
      const res = await bob.http.ok<{ chunk: Array<{ content: Record<string, unknown> }> }>('GET', `/_matrix/client/v3/rooms/${enc(roomId)}/messages`, { query: { dir: 'b', limit: 5 } });
      return res.chunk.some((e) => e.content['body'] === 'come in');
    }, 20_000, 'A’s message on B');
  });

});
