// Spaces and jump to date across two real homeservers on loopback (a.test, b.test). A space on A names
// rooms of B that A is not in: alice on A sees B's public room and the children of B's subspace in GET
// /hierarchy, through GET /_matrix/federation/v1/hierarchy on B, but not B's invite-only room (B names
// it in inaccessible_children), nor a room whose server ACL denies A. Jump to date: bob on B, who joined
// A's room late, asks for a time before his join; B asks A, fetches the message A names and gives it.
// Both federation endpoints refuse what the spec says they must. Answers are checked against the spec.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { join } from 'node:path';
import { loadOrCreateSigningKeys } from '../../../homeserver/federation/keys/SigningKeyFile.js';
import { FederationRequestError } from '../../../homeserver/federation/transport/FederationClient.js';
import { enc, federationClientAs, registerUser, SpecValidator, startServerPair, type TestHomeserver, type TestUser } from '../../harness/index.js';

const spec = SpecValidator.load();
let a: TestHomeserver;
let b: TestHomeserver;
let dir: string;
let stopServers: (() => Promise<void>) | undefined;
let alice: TestUser;
let bob: TestUser;

type Room = { room_id: string; name?: string; num_joined_members: number; children_state: Array<{ state_key: string }> };

const create = async (user: TestUser, body: Record<string, unknown>): Promise<string> =>
  (await user.http.ok<{ room_id: string }>('POST', '/_matrix/client/v3/createRoom', { body })).room_id;
const addChild = (user: TestUser, parent: string, child: string, via: string): Promise<unknown> =>
  user.http.ok('PUT', `/_matrix/client/v3/rooms/${enc(parent)}/state/m.space.child/${enc(child)}`, { body: { via: [via] } });
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A federation client signing as `server` with the pair's key of it. */
const as = (server: 'a.test' | 'b.test') =>
  federationClientAs(server, loadOrCreateSigningKeys(join(dir, server === 'a.test' ? 'a.key' : 'b.key')).current, {
    'a.test': `http://127.0.0.1:${a.port}`,
    'b.test': `http://127.0.0.1:${b.port}`,
  });

async function statusOf(p: Promise<unknown>): Promise<[number | null, string | null]> {
  try {
    await p;
    return [200, null];
  } catch (err) {
    if (err instanceof FederationRequestError) return [err.status, err.errcode];
    throw err;
  }
}

beforeAll(async () => {
  ({ a, b, dir, stop: stopServers } = await startServerPair({ name: 'fedspaces' }));
  alice = await registerUser(a.url, 'alice');
  bob = await registerUser(b.url, 'bob');
});

afterAll(async () => {
  await stopServers?.();
});

describe('a space on A with children on B', () => {
  let space: string;
  let lobby: string;
  let hidden: string;
  let denied: string;
  let bSpace: string;
  let nested: string;

  beforeAll(async () => {
    space = await create(alice, { preset: 'public_chat', name: 'A space', creation_content: { type: 'm.space' } });
    lobby = await create(bob, { preset: 'public_chat', name: 'B lobby', topic: 'on B' });
    hidden = await create(bob, { preset: 'private_chat', name: 'B hidden' });
    denied = await create(bob, {
      preset: 'public_chat',
      name: 'B denies A',
      initial_state: [{ type: 'm.room.server_acl', state_key: '', content: { allow: ['*'], deny: ['a.test'], allow_ip_literals: false } }],
    });
    bSpace = await create(bob, { preset: 'public_chat', name: 'B space', creation_content: { type: 'm.space' } });
    nested = await create(bob, { preset: 'public_chat', name: 'B nested' });
    await addChild(bob, bSpace, nested, 'b.test');
    await addChild(bob, bSpace, hidden, 'b.test');
    for (const child of [lobby, hidden, denied, bSpace]) await addChild(alice, space, child, 'b.test');
  });

  it('shows alice the rooms of B she may see, summarised by B, and hides the others', async () => {
    const res = await alice.http.request<{ rooms: Room[]; next_batch?: string }>('GET', `/_matrix/client/v1/rooms/${enc(space)}/hierarchy`);
    expect(res.status).toBe(200);
    if (spec) expect(await spec.validateResponse('client-server/space_hierarchy.yaml', '/rooms/{roomId}/hierarchy', 'get', 200, res.body)).toEqual([]);
    expect(res.body.rooms.map((r) => r.name).sort()).toEqual(['A space', 'B lobby', 'B nested', 'B space']);
    expect(res.body.rooms.find((r) => r.room_id === lobby)).toMatchObject({ name: 'B lobby', topic: 'on B', num_joined_members: 1, join_rule: 'public', children_state: [] });
    expect(res.body.rooms.find((r) => r.room_id === bSpace)!.children_state.map((c) => c.state_key)).toEqual([nested, hidden]);
  });

  it('serves GET /_matrix/federation/v1/hierarchy as the spec shapes it, with the ACL and the join rules', async () => {
    const answer = await as('a.test').request('b.test', 'GET', `/_matrix/federation/v1/hierarchy/${enc(bSpace)}?suggested_only=false`);
    if (spec) expect(await spec.validateResponse('server-server/space_hierarchy.yaml', '/hierarchy/{roomId}', 'get', 200, answer)).toEqual([]);
    expect(answer).toMatchObject({ room: { room_id: bSpace, room_type: 'm.space' }, children: [{ room_id: nested, name: 'B nested' }], inaccessible_children: [hidden] });
    expect(await statusOf(as('a.test').request('b.test', 'GET', `/_matrix/federation/v1/hierarchy/${enc(hidden)}`))).toEqual([404, 'M_NOT_FOUND']);
    expect(await statusOf(as('a.test').request('b.test', 'GET', `/_matrix/federation/v1/hierarchy/${enc(denied)}`))).toEqual([403, 'M_FORBIDDEN']);
    expect(await statusOf(as('a.test').request('b.test', 'GET', `/_matrix/federation/v1/hierarchy/${enc('!unknown:b.test')}`))).toEqual([404, 'M_NOT_FOUND']);
  });
});

describe('timestamp_to_event across servers', () => {
  it('gives bob on B, who joined late, the message A has closest to a time before his join', async () => {
    const room = await create(alice, { preset: 'public_chat', name: 'History' });
    await sleep(20);
    const early = (await alice.http.ok<{ event_id: string }>('PUT', `/_matrix/client/v3/rooms/${enc(room)}/send/m.room.message/early`, { body: { msgtype: 'm.text', body: 'early' } })).event_id;
    const earlyTs = (await alice.http.ok<{ origin_server_ts: number }>('GET', `/_matrix/client/v3/rooms/${enc(room)}/event/${enc(early)}`)).origin_server_ts;
    for (let n = 0; n < 5; n++) await alice.http.ok('PUT', `/_matrix/client/v3/rooms/${enc(room)}/send/m.room.message/later${n}`, { body: { msgtype: 'm.text', body: `later ${n}` } });

    // Before B is in the room, A refuses it.
    expect(await statusOf(as('b.test').request('a.test', 'GET', `/_matrix/federation/v1/timestamp_to_event/${enc(room)}?ts=${earlyTs}&dir=f`))).toEqual([403, 'M_FORBIDDEN']);

    await sleep(20);
    await bob.http.ok('POST', `/_matrix/client/v3/join/${enc(room)}`, { query: { server_name: 'a.test' } });
    const direct = await as('b.test').request('a.test', 'GET', `/_matrix/federation/v1/timestamp_to_event/${enc(room)}?ts=${earlyTs}&dir=f`);
    expect(direct).toEqual({ event_id: early, origin_server_ts: earlyTs });
    if (spec) expect(await spec.validateResponse('server-server/events.yaml', '/timestamp_to_event/{roomId}', 'get', 200, direct)).toEqual([]);

    const res = await bob.http.request('GET', `/_matrix/client/v1/rooms/${enc(room)}/timestamp_to_event`, { query: { ts: String(earlyTs), dir: 'f' } });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ event_id: early, origin_server_ts: earlyTs });
    // B now holds the event, so bob's client can open it where it is.
    const context = await bob.http.request('GET', `/_matrix/client/v3/rooms/${enc(room)}/context/${enc(early)}`, { query: { limit: '0' } });
    expect(context.status).toBe(200);
  });
});
