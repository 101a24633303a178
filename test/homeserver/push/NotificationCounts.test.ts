// unread_notifications and unread_thread_notifications in /sync come from the push rules: a muted room
// counts nothing, a mention highlights, and (threaded) read receipts reset what they cover.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CoreClient, enc, type CoreUser } from '../core/coreHarness.js';

interface Counts {
  notification_count: number;
  highlight_count: number;
}
interface RoomCounts {
  unread_notifications: Counts;
  unread_thread_notifications?: Record<string, Counts>;
}

describe('notification counts in /sync', () => {
  let c: CoreClient;
  let alice: CoreUser;
  let bob: CoreUser;
  let txn = 0;

  const sendContent = async (user: CoreUser, roomId: string, content: Record<string, unknown>): Promise<string> => {
    const r = await c.ok('PUT', `/rooms/${enc(roomId)}/send/m.room.message/counts-${++txn}`, { token: user.token, body: content });
    return r['event_id'] as string;
  };
  const countsOf = async (user: CoreUser, roomId: string, perThread = false): Promise<RoomCounts> => {
    const filter = perThread ? JSON.stringify({ room: { timeline: { unread_thread_notifications: true } } }) : undefined;
    const body = await c.sync(user, filter ? { filter } : {});
    return body.rooms.join[roomId] as unknown as RoomCounts;
  };
  const roomWithBob = async (): Promise<string> => {
    const roomId = await c.createRoom(alice, { preset: 'public_chat' });
    await c.ok('POST', `/rooms/${enc(roomId)}/join`, { token: bob.token, body: {} });
    return roomId;
  };

  beforeAll(async () => {
    c = await CoreClient.start();
    alice = await c.register('alice');
    bob = await c.register('bob');
  });
  afterAll(() => c.stop());

  it('counts what the push rules notify, nothing in a room the user muted, and only mentions under a room rule', async () => {
    const roomId = await roomWithBob();
    await c.send(alice, roomId, 'hello');
    await c.send(alice, roomId, 'bob: are you there?');
    // A notice and an edit notify nobody.
    await sendContent(alice, roomId, { msgtype: 'm.notice', body: 'bot: bob' });
    expect((await countsOf(bob, roomId)).unread_notifications).toEqual({ notification_count: 2, highlight_count: 1 });

    await c.ok('PUT', `/pushrules/global/override/${enc(roomId)}`, {
      token: bob.token,
      body: { actions: [], conditions: [{ kind: 'event_match', key: 'room_id', pattern: roomId }] },
    });
    const muted = await roomWithBob();
    await c.ok('PUT', `/pushrules/global/room/${enc(muted)}`, { token: bob.token, body: { actions: ['dont_notify'] } });
    await c.send(alice, roomId, 'bob: still there?');
    await c.send(alice, muted, 'hello');
    expect((await countsOf(bob, roomId)).unread_notifications).toEqual({ notification_count: 2, highlight_count: 1 });
    expect((await countsOf(bob, muted)).unread_notifications).toEqual({ notification_count: 0, highlight_count: 0 });
    // A room rule ranks below the override mention rules: Element's "mentions only".
    await c.send(alice, muted, 'bob: hi');
    expect((await countsOf(bob, muted)).unread_notifications).toEqual({ notification_count: 1, highlight_count: 1 });
  });

  it('splits counts per thread when the filter asks, and threaded receipts reset only their thread', async () => {
    const roomId = await roomWithBob();
    const root = await c.send(alice, roomId, 'root');
    const inThread = (body: string) => sendContent(alice, roomId, { msgtype: 'm.text', body, 'm.relates_to': { rel_type: 'm.thread', event_id: root } });
    await inThread('one');
    const two = await inThread('bob: two');
    const main = await c.send(alice, roomId, 'main again');

    expect((await countsOf(bob, roomId)).unread_notifications).toEqual({ notification_count: 4, highlight_count: 1 });
    const split = await countsOf(bob, roomId, true);
    expect(split.unread_notifications).toEqual({ notification_count: 2, highlight_count: 0 });
    expect(split.unread_thread_notifications).toEqual({ [root]: { notification_count: 2, highlight_count: 1 } });

    await c.ok('POST', `/rooms/${enc(roomId)}/receipt/m.read/${enc(two)}`, { token: bob.token, body: { thread_id: root } });
    const afterThread = await countsOf(bob, roomId, true);
    expect(afterThread.unread_notifications).toEqual({ notification_count: 2, highlight_count: 0 });
    expect(afterThread.unread_thread_notifications).toEqual({});

    await c.ok('POST', `/rooms/${enc(roomId)}/receipt/m.read/${enc(main)}`, { token: bob.token, body: { thread_id: 'main' } });
    expect((await countsOf(bob, roomId)).unread_notifications).toEqual({ notification_count: 0, highlight_count: 0 });
    await inThread('three');
    expect((await countsOf(bob, roomId, true)).unread_thread_notifications).toEqual({ [root]: { notification_count: 1, highlight_count: 0 } });
    // An unthreaded receipt covers the threads too.
    const latest = await c.send(alice, roomId, 'last');
    await c.ok('POST', `/rooms/${enc(roomId)}/receipt/m.read/${enc(latest)}`, { token: bob.token, body: {} });
    const all = await countsOf(bob, roomId, true);
    expect(all.unread_notifications).toEqual({ notification_count: 0, highlight_count: 0 });
    expect(all.unread_thread_notifications).toEqual({});
  });
});
