// History visibility (spec: Client-Server API, "Room History Visibility"): every event is judged by the
// m.room.history_visibility in force when it was sent and the reader's membership at that point, on every
// path a user reads events through (/messages, /event, /context, /sync), for people and for an
// appservice's ghosts alike.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  enc,
  registerUser,
  startTestHomeserver,
  TestAppservice,
  writeAppserviceRegistration,
  type JsonObject,
  type MatrixHttpClient,
  type TestHomeserver,
  type TestUser,
} from '../harness/index.js';

type Visibility = 'world_readable' | 'shared' | 'invited' | 'joined';
type Situation = 'joined' | 'left' | 'invited' | 'never' | 'ghost';
type Message = 'early' | 'before' | 'during' | 'after';

interface ClientEvent {
  event_id: string;
  type: string;
  sender: string;
  state_key?: string;
  content: Record<string, unknown>;
}
interface RoomTimeline {
  timeline: { events: ClientEvent[]; limited: boolean; prev_batch: string };
  state: { events: ClientEvent[] };
  unread_notifications?: { notification_count: number };
}
interface SyncBody {
  next_batch: string;
  rooms: { join: Record<string, RoomTimeline>; leave: Record<string, RoomTimeline>; invite: Record<string, { invite_state: { events: ClientEvent[] } }> };
}
interface MessagesBody {
  chunk: ClientEvent[];
  start: string;
  end?: string;
}

const ALL: Message[] = ['early', 'before', 'during', 'after'];

/**
 * The room's story: `early`; the invited user is invited; `before`; the joiner, the ghost and the leaver
 * join; `during`; the leaver leaves; `after`. The never-member never appears. What each may read:
 */
const EXPECTED: Record<Visibility, Record<Situation, Message[] | 'forbidden'>> = {
  world_readable: { joined: ALL, left: ALL, invited: ALL, never: ALL, ghost: ALL },
  shared: { joined: ALL, left: ['early', 'before', 'during'], invited: [], never: 'forbidden', ghost: ALL },
  invited: { joined: ['during', 'after'], left: ['during'], invited: ['before', 'during', 'after'], never: 'forbidden', ghost: ['during', 'after'] },
  joined: { joined: ['during', 'after'], left: ['during'], invited: [], never: 'forbidden', ghost: ['during', 'after'] },
};

const bodiesOf = (events: ClientEvent[]): string[] => events.filter((e) => e.type === 'm.room.message').map((e) => String(e.content['body']));
const sorted = (list: string[]): string[] => [...list].sort();

describe('history visibility', () => {
  let hs: TestHomeserver;
  const as = new TestAppservice({ id: 'hv-as', prefix: '_hv_' });
  let alice: TestUser;
  let txn = 0;
  /** Readers by situation; the ghost is the appservice acting as one of its users. */
  const readers = {} as Record<Situation, { userId: string; http: MatrixHttpClient; query: Record<string, string> }>;

  const send = async (user: { http: MatrixHttpClient; query?: Record<string, string> }, roomId: string, body: string): Promise<string> => {
    txn += 1;
    const r = await user.http.ok<{ event_id: string }>('PUT', `/rooms/${enc(roomId)}/send/m.room.message/hv${txn}`, {
      body: { msgtype: 'm.text', body },
      query: user.query,
    });
    return r.event_id;
  };
  const createRoom = async (visibility: Visibility): Promise<string> =>
    (
      await alice.http.ok<{ room_id: string }>('POST', '/createRoom', {
        body: { preset: 'public_chat', initial_state: [{ type: 'm.room.history_visibility', content: { history_visibility: visibility } }] },
      })
    ).room_id;
  const join = (who: Situation, roomId: string): Promise<unknown> =>
    readers[who].http.ok('POST', `/rooms/${enc(roomId)}/join`, { body: {}, query: readers[who].query });
  const syncOf = async (who: Situation, filter: JsonObject = { room: { timeline: { limit: 100 }, include_leave: true } }, since?: string): Promise<SyncBody> =>
    readers[who].http.ok<SyncBody>('GET', '/sync', { query: { ...readers[who].query, filter: JSON.stringify(filter), since } });

  beforeAll(async () => {
    await as.start();
    hs = await startTestHomeserver({ appserviceConfigFiles: [await writeAppserviceRegistration(as)] });
    as.homeserverUrl = hs.url;
    alice = await registerUser(hs.url, 'alice');
    for (const who of ['joined', 'left', 'invited', 'never'] as const) {
      const u = await registerUser(hs.url, `reader_${who}`);
      readers[who] = { userId: u.userId, http: u.http, query: {} };
    }
    const ghost = `@_hv_ghost:${hs.serverName}`;
    await as.http.ok('POST', '/register', { body: { type: 'm.login.application_service', username: '_hv_ghost', inhibit_login: true } });
    readers.ghost = { userId: ghost, http: as.http, query: { user_id: ghost } };
  });
  afterAll(async () => {
    await hs?.stop();
    await as.stop();
  });

  describe('the issue: a room with "joined" history and a later joiner', () => {
    let roomId: string;
    let secret: string;
    let bob: TestUser;
    let carol: TestUser;

    beforeAll(async () => {
      bob = await registerUser(hs.url, 'bob');
      carol = await registerUser(hs.url, 'carol');
      roomId = await createRoom('joined');
      secret = await send(alice, roomId, 'secret before bob');
    });

    it('hides earlier messages from /sync, including the newly joined room in an incremental sync', async () => {
      const before = await bob.http.ok<SyncBody>('GET', '/sync', { query: { filter: JSON.stringify({ room: { timeline: { limit: 50 } } }) } });
      await bob.http.ok('POST', `/rooms/${enc(roomId)}/join`, { body: {} });
      await send(alice, roomId, 'hello bob');
      const inc = await bob.http.ok<SyncBody>('GET', '/sync', {
        query: { since: before.next_batch, filter: JSON.stringify({ room: { timeline: { limit: 50 } } }) },
      });
      const room = inc.rooms.join[roomId]!;
      expect(bodiesOf(room.timeline.events)).toEqual(['hello bob']);
      expect(room.timeline.events.map((e) => e.event_id)).not.toContain(secret);
      expect(room.timeline.events.some((e) => e.type === 'm.room.member' && e.state_key === bob.userId)).toBe(true);
      // Nothing he may see is left out, so the timeline is complete.
      expect(room.timeline.limited).toBe(false);
      // Unread counts only count what he can read.
      expect(room.unread_notifications?.notification_count).toBe(1);
      const initial = await bob.http.ok<SyncBody>('GET', '/sync', { query: { filter: JSON.stringify({ room: { timeline: { limit: 50 } } }) } });
      expect(bodiesOf(initial.rooms.join[roomId]!.timeline.events)).toEqual(['hello bob']);
    });

    it('hides them from /messages, /event and /context', async () => {
      const messages = await bob.http.ok<MessagesBody>('GET', `/rooms/${enc(roomId)}/messages`, { query: { dir: 'b', limit: 50 } });
      expect(bodiesOf(messages.chunk)).toEqual(['hello bob']);
      expect(messages.end).toBeUndefined();
      const forwards = await bob.http.ok<MessagesBody>('GET', `/rooms/${enc(roomId)}/messages`, { query: { dir: 'f', limit: 50 } });
      expect(bodiesOf(forwards.chunk)).toEqual(['hello bob']);
      const event = await bob.http.get(`/rooms/${enc(roomId)}/event/${enc(secret)}`);
      expect(event.status).toBe(404);
      expect(event.body['errcode']).toBe('M_NOT_FOUND');
      expect((await bob.http.get(`/rooms/${enc(roomId)}/context/${enc(secret)}`)).status).toBe(404);
      const hello = messages.chunk.find((e) => e.content['body'] === 'hello bob')!;
      const context = await bob.http.ok<{ events_before: ClientEvent[]; events_after: ClientEvent[] }>(
        'GET',
        `/rooms/${enc(roomId)}/context/${enc(hello.event_id)}`,
        { query: { limit: 50 } },
      );
      expect(bodiesOf(context.events_before)).toEqual([]);
      expect(context.events_before.map((e) => e.event_id)).not.toContain(secret);
      expect(context.events_before.some((e) => e.type === 'm.room.member' && e.state_key === bob.userId)).toBe(true);
      // A receipt on an event he may not see is refused like the event itself.
      expect((await bob.http.post(`/rooms/${enc(roomId)}/receipt/m.read/${enc(secret)}`, {})).status).toBe(404);
      // Alice, who was there, still reads everything.
      const hers = await alice.http.ok<MessagesBody>('GET', `/rooms/${enc(roomId)}/messages`, { query: { dir: 'b', limit: 50 } });
      expect(bodiesOf(hers.chunk)).toEqual(['hello bob', 'secret before bob']);
    });

    it('switching to world_readable shows non-members what follows, never the earlier history', async () => {
      const switched = await alice.http.ok<{ event_id: string }>('PUT', `/rooms/${enc(roomId)}/state/m.room.history_visibility`, {
        body: { history_visibility: 'world_readable' },
      });
      await send(alice, roomId, 'public now');
      const messages = await carol.http.ok<MessagesBody>('GET', `/rooms/${enc(roomId)}/messages`, { query: { dir: 'b', limit: 50 } });
      expect(bodiesOf(messages.chunk)).toEqual(['public now']);
      // The change itself is visible: the visibility after it allows her.
      expect(messages.chunk.map((e) => e.event_id)).toContain(switched.event_id);
      expect(messages.chunk.some((e) => e.type === 'm.room.member' && e.state_key === bob.userId)).toBe(false);
      expect((await carol.http.get(`/rooms/${enc(roomId)}/event/${enc(secret)}`)).status).toBe(404);
      expect((await carol.http.get(`/rooms/${enc(roomId)}/event/${enc(switched.event_id)}`)).status).toBe(200);
      // Back to joined: non-members are shut out again, and what was public stays readable to members.
      await alice.http.ok('PUT', `/rooms/${enc(roomId)}/state/m.room.history_visibility`, { body: { history_visibility: 'joined' } });
      expect((await carol.http.get(`/rooms/${enc(roomId)}/messages`, { query: { dir: 'b' } })).status).toBe(403);
      expect((await carol.http.get(`/rooms/${enc(roomId)}/state`)).status).toBe(403);
    });
  });

  describe.each(['world_readable', 'shared', 'invited', 'joined'] as const)('"%s" history', (visibility) => {
    let roomId: string;
    const ids = {} as Record<Message, string>;

    beforeAll(async () => {
      roomId = await createRoom(visibility);
      ids.early = await send(alice, roomId, 'early');
      await alice.http.ok('POST', `/rooms/${enc(roomId)}/invite`, { body: { user_id: readers.invited.userId } });
      ids.before = await send(alice, roomId, 'before');
      for (const who of ['joined', 'ghost', 'left'] as const) await join(who, roomId);
      ids.during = await send(alice, roomId, 'during');
      await readers.left.http.ok('POST', `/rooms/${enc(roomId)}/leave`, { body: {} });
      ids.after = await send(alice, roomId, 'after');
    });

    it.each(['joined', 'left', 'invited', 'never', 'ghost'] as const)('as a user who is %s', async (who) => {
      const expected = EXPECTED[visibility][who];
      const reader = readers[who];
      const messages = await reader.http.get<MessagesBody>(`/rooms/${enc(roomId)}/messages`, { query: { ...reader.query, dir: 'b', limit: 100 } });
      if (expected === 'forbidden') {
        expect(messages.status).toBe(403);
        for (const m of ALL) expect((await reader.http.get(`/rooms/${enc(roomId)}/event/${enc(ids[m])}`, { query: reader.query })).status).toBe(403);
        const sync = await syncOf(who);
        expect(sync.rooms.join[roomId] ?? sync.rooms.leave[roomId] ?? sync.rooms.invite[roomId]).toBeUndefined();
        return;
      }
      expect(messages.status).toBe(200);
      expect(sorted(bodiesOf(messages.body.chunk))).toEqual(sorted(expected));
      expect(messages.body.end).toBeUndefined();
      const forwards = await reader.http.ok<MessagesBody>('GET', `/rooms/${enc(roomId)}/messages`, { query: { ...reader.query, dir: 'f', limit: 100 } });
      expect(bodiesOf(forwards.chunk)).toEqual(ALL.filter((m) => expected.includes(m)));
      // Their own membership events are always theirs to see.
      if (who !== 'never') expect(messages.body.chunk.some((e) => e.type === 'm.room.member' && e.state_key === reader.userId)).toBe(true);

      for (const m of ALL) {
        const event = await reader.http.get(`/rooms/${enc(roomId)}/event/${enc(ids[m])}`, { query: reader.query });
        expect([m, event.status]).toEqual([m, expected.includes(m) ? 200 : 404]);
        const context = await reader.http.get<{ event: ClientEvent; events_before: ClientEvent[]; events_after: ClientEvent[] }>(
          `/rooms/${enc(roomId)}/context/${enc(ids[m])}`,
          { query: { ...reader.query, limit: 100 } },
        );
        if (!expected.includes(m)) {
          expect([m, context.status]).toEqual([m, 404]);
          continue;
        }
        const seen = [...context.body.events_before.reverse(), context.body.event, ...context.body.events_after];
        expect([m, bodiesOf(seen)]).toEqual([m, ALL.filter((x) => expected.includes(x))]);
      }

      const sync = await syncOf(who);
      if (who === 'invited') {
        expect(sync.rooms.invite[roomId]).toBeDefined();
        expect(JSON.stringify(sync.rooms.invite[roomId])).not.toContain('"body"');
      } else if (who === 'never') {
        expect(sync.rooms.join[roomId] ?? sync.rooms.leave[roomId]).toBeUndefined();
      } else {
        // A room one has left shows its timeline up to the leave.
        const room = (who === 'left' ? sync.rooms.leave : sync.rooms.join)[roomId]!;
        const upToNow = who === 'left' ? ALL.filter((m) => m !== 'after') : ALL;
        expect(bodiesOf(room.timeline.events)).toEqual(upToNow.filter((m) => expected.includes(m)));
        expect(room.timeline.limited).toBe(false);
      }
    });
  });

  describe('pagination across stretches the reader may not see', () => {
    let roomId: string;
    const visible: string[] = [];

    beforeAll(async () => {
      roomId = await createRoom('joined');
      for (let i = 0; i < 12; i += 1) await send(alice, roomId, `hidden a${i}`);
      await join('left', roomId);
      for (let i = 0; i < 5; i += 1) visible.push(await send(alice, roomId, `seen b${i}`));
      await readers.left.http.ok('POST', `/rooms/${enc(roomId)}/leave`, { body: {} });
      for (let i = 0; i < 12; i += 1) await send(alice, roomId, `hidden c${i}`);
      await join('left', roomId);
      for (let i = 0; i < 5; i += 1) visible.push(await send(alice, roomId, `seen d${i}`));
    });

    it.each(['b', 'f'] as const)('pages dir=%s in small steps: every visible event once, no empty page, an end only while more remain', async (dir) => {
      const got: ClientEvent[] = [];
      let from: string | undefined;
      for (let page = 0; page < 50; page += 1) {
        const r = await readers.left.http.ok<MessagesBody>('GET', `/rooms/${enc(roomId)}/messages`, { query: { dir, limit: 3, from } });
        if (r.end !== undefined) expect(r.chunk.length).toBeGreaterThan(0);
        got.push(...r.chunk);
        if (r.end === undefined) break;
        from = r.end;
      }
      const messages = got.filter((e) => e.type === 'm.room.message');
      expect(bodiesOf(messages).every((b) => b.startsWith('seen '))).toBe(true);
      expect(sorted(messages.map((e) => e.event_id))).toEqual(sorted(visible));
      expect(new Set(got.map((e) => e.event_id)).size).toBe(got.length);
      // Their own two joins and a leave come along.
      const own = got.filter((e) => e.type === 'm.room.member' && e.state_key === readers.left.userId);
      expect(own.map((e) => e.content['membership']).sort()).toEqual(['join', 'join', 'leave']);
    });

    it('a sync timeline is limited only while visible events remain before it', async () => {
      const small = await syncOf('left', { room: { timeline: { limit: 6 } } });
      expect(small.rooms.join[roomId]!.timeline.limited).toBe(true);
      const big = await syncOf('left', { room: { timeline: { limit: 50 } } });
      const room = big.rooms.join[roomId]!;
      expect(room.timeline.limited).toBe(false);
      expect(sorted(room.timeline.events.filter((e) => e.type === 'm.room.message').map((e) => e.event_id))).toEqual(sorted(visible));
    });
  });

  describe('state and members', () => {
    let roomId: string;

    beforeAll(async () => {
      roomId = await createRoom('joined');
      await join('left', roomId);
      await alice.http.ok('PUT', `/rooms/${enc(roomId)}/state/m.room.topic`, { body: { topic: 'while there' } });
      await readers.left.http.ok('POST', `/rooms/${enc(roomId)}/leave`, { body: {} });
      await alice.http.ok('PUT', `/rooms/${enc(roomId)}/state/m.room.topic`, { body: { topic: 'after leaving' } });
      await join('ghost', roomId);
    });

    it('a former member reads the state as it was when they left; others not at all', async () => {
      expect(await readers.left.http.ok('GET', `/rooms/${enc(roomId)}/state/m.room.topic`)).toEqual({ topic: 'while there' });
      expect((await readers.never.http.get(`/rooms/${enc(roomId)}/state`)).status).toBe(403);
      expect((await readers.never.http.get(`/rooms/${enc(roomId)}/members`)).status).toBe(403);
    });

    it('a rejected invite shows up in sync as the leave, without the room\'s history or state', async () => {
      const room = await createRoom('shared');
      await alice.http.ok('PUT', `/rooms/${enc(room)}/state/m.room.topic`, { body: { topic: 'members only' } });
      await send(alice, room, 'members talk');
      const carol = await registerUser(hs.url, 'carol_rejects');
      await alice.http.ok('POST', `/rooms/${enc(room)}/invite`, { body: { user_id: carol.userId } });
      await carol.http.ok('POST', `/rooms/${enc(room)}/leave`, { body: {} });
      const sync = await carol.http.ok<SyncBody>('GET', '/sync', { query: { filter: JSON.stringify({ room: { include_leave: true } }) } });
      const left = sync.rooms.leave[room]!;
      expect(left.timeline.events.map((e) => [e.type, e.content['membership']])).toEqual([['m.room.member', 'leave']]);
      // Her own invite is all the state she may see.
      expect(left.state.events.map((e) => [e.type, e.state_key])).toEqual([['m.room.member', carol.userId]]);
    });

    it('joined_members: current members, and an appservice with one of its users in the room', async () => {
      const members = await alice.http.ok<{ joined: Record<string, unknown> }>('GET', `/rooms/${enc(roomId)}/joined_members`);
      expect(Object.keys(members.joined).sort()).toEqual([alice.userId, readers.ghost.userId].sort());
      // The appservice's bot is not in the room, its ghost is: the spec lets the appservice ask.
      const asBot = await as.http.ok<{ joined: Record<string, unknown> }>('GET', `/rooms/${enc(roomId)}/joined_members`);
      expect(Object.keys(asBot.joined)).toContain(readers.ghost.userId);
      expect((await readers.left.http.get(`/rooms/${enc(roomId)}/joined_members`)).status).toBe(403);
      expect((await readers.never.http.get(`/rooms/${enc(roomId)}/joined_members`)).status).toBe(403);
    });
  });
});
