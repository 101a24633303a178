// Responses are bounded in bytes, not only in events: a room of ~60 KiB events asked for 1000 at a time
// answers pages within the budget, with tokens that lead through every event exactly once.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { RESPONSE_BUDGET } from '../../homeserver/events/ResponseBudget.js';
import { enc, registerUser, startTestHomeserver, type TestHomeserver, type TestUser } from '../harness/index.js';

interface ClientEvent {
  event_id: string;
  type: string;
  content: Record<string, unknown>;
}
interface MessagesBody {
  chunk: ClientEvent[];
  start: string;
  end?: string;
}
interface SyncRoom {
  timeline: { events: ClientEvent[]; limited: boolean; prev_batch: string };
}

const EVENT_BYTES = 60 * 1024;
const bytes = (value: unknown): number => Buffer.byteLength(JSON.stringify(value));
const messageIds = (events: ClientEvent[]): string[] => events.filter((e) => e.type === 'm.room.message').map((e) => e.event_id);

describe('response byte budgets', () => {
  let hs: TestHomeserver;
  let alice: TestUser;
  let txn = 0;
  /** Rooms and their large messages, oldest first. */
  const rooms = new Map<string, string[]>();
  let big: string;

  const fill = async (roomId: string, count: number): Promise<void> => {
    const ids: string[] = [];
    for (let i = 0; i < count; i += 1) {
      txn += 1;
      const body = `${i} ${'x'.repeat(EVENT_BYTES - 300)}`;
      ids.push((await alice.http.ok<{ event_id: string }>('PUT', `/rooms/${enc(roomId)}/send/m.room.message/b${txn}`, { body: { msgtype: 'm.text', body } })).event_id);
    }
    rooms.set(roomId, ids);
  };

  /** Every message reachable from a token by paging /messages?limit=1000 in one direction. */
  const pageAll = async (roomId: string, dir: 'b' | 'f', from?: string): Promise<{ ids: string[]; pages: number }> => {
    const ids: string[] = [];
    let pages = 0;
    for (;;) {
      const page = await alice.http.get<MessagesBody>(`/rooms/${enc(roomId)}/messages`, { query: { dir, limit: 1000, from } });
      expect(page.status).toBe(200);
      pages += 1;
      expect(bytes(page.body.chunk)).toBeLessThanOrEqual(RESPONSE_BUDGET.messagesBytes);
      ids.push(...messageIds(page.body.chunk));
      if (page.body.end === undefined) return { ids, pages };
      expect(page.body.chunk.length).toBeGreaterThan(0);
      expect(pages).toBeLessThan(100);
      from = page.body.end;
    }
  };

  beforeAll(async () => {
    hs = await startTestHomeserver();
    alice = await registerUser(hs.url, 'alice');
    big = (await alice.http.ok<{ room_id: string }>('POST', '/createRoom', { body: { name: 'big' } })).room_id;
    await fill(big, 150);
    for (let r = 0; r < 4; r += 1) {
      const roomId = (await alice.http.ok<{ room_id: string }>('POST', '/createRoom', { body: { name: `room ${r}` } })).room_id;
      await fill(roomId, 40);
    }
  }, 120_000);
  afterAll(() => hs?.stop());

  it.each(['b', 'f'] as const)('/messages?dir=%s&limit=1000 stays within the budget and pages to the end losing nothing', async (dir) => {
    const { ids, pages } = await pageAll(big, dir);
    const sent = rooms.get(big)!;
    expect(ids).toEqual(dir === 'f' ? sent : [...sent].reverse());
    // 150 events of 60 KiB do not fit one 4 MiB page.
    expect(pages).toBeGreaterThan(2);
  });

  it('/context?limit=1000 stays within the budget; its tokens continue on both sides', async () => {
    const sent = rooms.get(big)!;
    const middle = sent[75]!;
    const ctx = await alice.http.ok<{ events_before: ClientEvent[]; events_after: ClientEvent[]; start: string; end: string }>(
      'GET',
      `/rooms/${enc(big)}/context/${enc(middle)}`,
      { query: { limit: 1000 } },
    );
    expect(bytes(ctx.events_before) + bytes(ctx.events_after)).toBeLessThanOrEqual(RESPONSE_BUDGET.messagesBytes);
    const before = messageIds(ctx.events_before).reverse();
    const after = messageIds(ctx.events_after);
    expect(before.length).toBeLessThan(75);
    const earlier = await pageAll(big, 'b', ctx.start);
    const later = await pageAll(big, 'f', ctx.end);
    expect([...earlier.ids.reverse(), ...before, middle, ...after, ...later.ids]).toEqual(sent);
  });

  it('/sync bounds each timeline and the whole answer; prev_batch leads back through everything', async () => {
    const sync = await alice.http.ok<{ rooms: { join: Record<string, SyncRoom> } }>('GET', '/sync', {
      query: { filter: JSON.stringify({ room: { timeline: { limit: 1000 } } }) },
    });
    const timelines = [...rooms.keys()].map((roomId) => [roomId, sync.rooms.join[roomId]!] as const);
    let total = 0;
    for (const [roomId, room] of timelines) {
      const size = bytes(room.timeline.events);
      total += size;
      // At least the newest event, even once the answer's budget is spent.
      expect(room.timeline.events.length).toBeGreaterThan(0);
      expect(size).toBeLessThanOrEqual(Math.max(RESPONSE_BUDGET.syncRoomBytes, EVENT_BYTES * 2));
      expect(room.timeline.limited).toBe(true);
      const earlier = await pageAll(roomId, 'b', room.timeline.prev_batch);
      expect([...earlier.ids.reverse(), ...messageIds(room.timeline.events)]).toEqual(rooms.get(roomId));
    }
    // Five rooms would take 10 MiB at 2 MiB each; the answer stops near 8 (one event per room over).
    expect(total).toBeLessThanOrEqual(RESPONSE_BUDGET.syncBytes + timelines.length * EVENT_BYTES * 2);
    expect(total).toBeLessThan(timelines.length * RESPONSE_BUDGET.syncRoomBytes);
  });
});
