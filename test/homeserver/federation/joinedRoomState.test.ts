// The state of a room joined through another server is state only: bob on B joins a room of A that has
// a name, a topic, several members and messages. B's /sync has the room's state in `state` and a timeline
// that starts at bob's join; /state and /members have all of it; paging back with /messages gets A's
// earlier events through backfill, in A's order, each once. An appservice of B whose user joins a room
// of A gets that join and the room's new events, never its state as new events.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { enc, registerUser, startServerPair, TestAppservice, type TestHomeserver, type TestUser, waitFor, writeAppserviceRegistration } from '../../harness/index.js';

let a: TestHomeserver;
let b: TestHomeserver;
let stopServers: (() => Promise<void>) | undefined;
let alice: TestUser;
let carol: TestUser;
let bob: TestUser;
let roomId: string;
const appservice = new TestAppservice({ id: 'b-as', serverName: 'b.test', prefix: '_bas_', protocol: 'bproto' });

type ClientEvent = { event_id: string; type: string; state_key?: string; sender: string; content: Record<string, unknown> };
type JoinedRoom = { timeline: { events: ClientEvent[]; prev_batch: string }; state: { events: ClientEvent[] } };
type SyncAnswer = { next_batch: string; rooms?: { join?: Record<string, JoinedRoom> } };

beforeAll(async () => {
  await appservice.start();
  ({ a, b, stop: stopServers } = await startServerPair({ name: 'fedjoinstate', b: async (d) => ({ appserviceConfigFiles: [await writeAppserviceRegistration(appservice, d)] }) }));
  appservice.homeserverUrl = b.url;
  alice = await registerUser(a.url, 'alice');
  carol = await registerUser(a.url, 'carol');
  bob = await registerUser(b.url, 'bob');
  roomId = (await alice.http.ok<{ room_id: string }>('POST', '/_matrix/client/v3/createRoom', { body: { preset: 'public_chat', name: 'Big room', topic: 'First topic' } })).room_id;
  await carol.http.ok('POST', `/_matrix/client/v3/join/${enc(roomId)}`);
  for (let n = 1; n <= 3; n++) {
    await alice.http.ok('PUT', `/_matrix/client/v3/rooms/${enc(roomId)}/send/m.room.message/m${n}`, { body: { msgtype: 'm.text', body: `before ${n}` } });
  }
  // The last event before the join is a state event: backfill must still start from it.
  await alice.http.ok('PUT', `/_matrix/client/v3/rooms/${enc(roomId)}/state/m.room.topic/`, { body: { topic: 'Second topic' } });
});

afterAll(async () => {
  await Promise.all([stopServers?.(), appservice.stop()]);
});

const stateOf = (events: ClientEvent[]): Record<string, unknown> =>
  Object.fromEntries(events.filter((e) => e.state_key !== undefined).map((e) => [`${e.type}|${e.state_key}`, e.content['topic'] ?? e.content['name'] ?? e.content['membership'] ?? e.type]));

async function allMessages(user: TestUser, from?: string): Promise<ClientEvent[]> {
  const out: ClientEvent[] = [];
  for (let page = 0; page < 20; page++) {
    const answer = await user.http.ok<{ chunk: ClientEvent[]; end?: string }>('GET', `/_matrix/client/v3/rooms/${enc(roomId)}/messages`, { query: { dir: 'b', limit: 4, ...(from && { from }) } });
    out.push(...answer.chunk);
    if (answer.end === undefined) break;
    from = answer.end;
  }
  return out;
}

describe('the state of a room joined through another server', () => {
  it('is in the join sync state, not its timeline; /messages pages back into A history through backfill', async () => {
    const joinedId = (await bob.http.ok<{ room_id: string }>('POST', `/_matrix/client/v3/join/${enc(roomId)}`, { query: { server_name: 'a.test' } })).room_id;
    expect(joinedId).toBe(roomId);
    const expected = {
      'm.room.create|': 'm.room.create',
      'm.room.name|': 'Big room',
      'm.room.topic|': 'Second topic',
      [`m.room.member|${alice.userId}`]: 'join',
      [`m.room.member|${carol.userId}`]: 'join',
    };

    const sync = await bob.http.ok<SyncAnswer>('GET', '/_matrix/client/v3/sync');
    const room = sync.rooms?.join?.[roomId];
    expect(room).toBeDefined();
    expect(room!.timeline.events.map((e) => [e.type, e.state_key])).toEqual([['m.room.member', bob.userId]]);
    expect(stateOf(room!.state.events)).toMatchObject(expected);
    expect(room!.state.events.some((e) => e.type === 'm.room.member' && e.state_key === bob.userId)).toBe(false);

    const lazy = await bob.http.ok<SyncAnswer>('GET', '/_matrix/client/v3/sync', { query: { filter: JSON.stringify({ room: { state: { lazy_load_members: true } } }) } });
    const lazyRoom = lazy.rooms?.join?.[roomId];
    expect(lazyRoom!.timeline.events.map((e) => e.type)).toEqual(['m.room.member']);
    expect(stateOf(lazyRoom!.state.events)).toMatchObject({ 'm.room.create|': 'm.room.create', 'm.room.name|': 'Big room', 'm.room.topic|': 'Second topic' });

    const state = await bob.http.ok<ClientEvent[]>('GET', `/_matrix/client/v3/rooms/${enc(roomId)}/state`);
    expect(stateOf(state)).toMatchObject({ ...expected, [`m.room.member|${bob.userId}`]: 'join' });
    const members = await bob.http.ok<{ chunk: ClientEvent[] }>('GET', `/_matrix/client/v3/rooms/${enc(roomId)}/members`);
    expect(members.chunk.map((e) => e.state_key).sort()).toEqual([alice.userId, bob.userId, carol.userId].sort());

    // Paging back from the join: A's events before it, fetched with /backfill, in A's order, each once.
    const history = await allMessages(bob, room!.timeline.prev_batch);
    const ids = history.map((e) => e.event_id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(history.filter((e) => e.type === 'm.room.message').map((e) => e.content['body'])).toEqual(['before 3', 'before 2', 'before 1']);
    const onA = (await allMessages(alice)).map((e) => e.event_id);
    const common = new Set(ids.filter((id) => onA.includes(id)));
    expect(ids.filter((id) => common.has(id))).toEqual(onA.filter((id) => common.has(id)));
    expect(ids.every((id) => onA.includes(id))).toBe(true);
    // The state events of that history (the join's state among them) show at their place, down to the create.
    expect(history.filter((e) => e.type === 'm.room.topic').map((e) => e.content['topic'])).toEqual(['Second topic', 'First topic']);
    expect(history.at(-1)?.type).toBe('m.room.create');

    // Nothing of the room's past shows as new afterwards.
    const later = await bob.http.ok<SyncAnswer>('GET', '/_matrix/client/v3/sync', { query: { since: sync.next_batch, timeout: 0 } });
    expect(later.rooms?.join?.[roomId]?.timeline.events ?? []).toEqual([]);
  });

  it('is not sent to an appservice of B whose user joins: it gets the join and what follows', async () => {
    const other = (await alice.http.ok<{ room_id: string }>('POST', '/_matrix/client/v3/createRoom', { body: { preset: 'public_chat', name: 'Other room', topic: 'Some topic' } })).room_id;
    await alice.http.ok('PUT', `/_matrix/client/v3/rooms/${enc(other)}/send/m.room.message/o1`, { body: { msgtype: 'm.text', body: 'old' } });
    await appservice.http.ok('POST', `/_matrix/client/v3/join/${enc(other)}`, { query: { server_name: 'a.test' } });
    await alice.http.ok('PUT', `/_matrix/client/v3/rooms/${enc(other)}/send/m.room.message/o2`, { body: { msgtype: 'm.text', body: 'new' } });
    const delivered = () => appservice.events.filter((e) => e.room_id === other);
    await waitFor(() => delivered().some((e) => e.content['body'] === 'new'), 20_000, 'the new message at the appservice');
    expect(delivered().map((e) => e.type)).toEqual(['m.room.member', 'm.room.message']);
  });
});
