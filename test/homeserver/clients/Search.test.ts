// Server-side search as clients use it: matrix-js-sdk's room search (Element's "search messages") with
// context and paging, and raw HTTP for ordering, filters, groupings, history visibility, redaction and
// terms that look like FTS5 query syntax; responses validated against the spec data.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type * as sdk from 'matrix-js-sdk';
import {
  enc,
  registerUser,
  SpecValidator,
  startSdkClient,
  startTestHomeserver,
  type JsonObject,
  type MatrixResponse,
  type TestHomeserver,
  type TestUser,
} from '../../harness/index.js';

const spec = SpecValidator.load();

interface Result {
  rank: number;
  result: { event_id: string; room_id: string; sender: string; content: JsonObject };
  context?: { events_before: Array<{ event_id: string }>; events_after: Array<{ event_id: string }>; profile_info?: Record<string, JsonObject>; start: string; end: string };
}
interface RoomEvents {
  count: number;
  highlights: string[];
  results: Result[];
  next_batch?: string;
  groups?: Record<string, Record<string, { order: number; results: string[] }>>;
  state?: Record<string, unknown[]>;
}

describe('search', () => {
  let hs: TestHomeserver;
  let alice: TestUser;
  let bob: TestUser;
  const clients: sdk.MatrixClient[] = [];
  let roomId = '';
  let txn = 0;

  async function send(user: TestUser, body: string, room = roomId): Promise<string> {
    txn += 1;
    const res = await user.http.ok<{ event_id: string }>('PUT', `/rooms/${enc(room)}/send/m.room.message/s${txn}`, { body: { msgtype: 'm.text', body } });
    return res.event_id;
  }

  async function search(user: TestUser, criteria: JsonObject, nextBatch?: string): Promise<MatrixResponse<{ search_categories: { room_events: RoomEvents } }>> {
    const res = await user.http.request<{ search_categories: { room_events: RoomEvents } }>('POST', '/search', {
      body: { search_categories: { room_events: criteria } },
      ...(nextBatch !== undefined && { query: { next_batch: nextBatch } }),
    });
    if (spec && res.status === 200) {
      const errors = await spec.validateResponse('client-server/search.yaml', '/search', 'post', res.status, res.body);
      expect(errors).toEqual([]);
    }
    return res;
  }

  async function found(user: TestUser, criteria: JsonObject): Promise<RoomEvents> {
    const res = await search(user, criteria);
    expect(res.status).toBe(200);
    return res.body.search_categories.room_events;
  }

  beforeAll(async () => {
    hs = await startTestHomeserver();
    alice = await registerUser(hs.url, 'alice');
    bob = await registerUser(hs.url, 'bob');
    await bob.http.ok('PUT', `/profile/${enc(bob.userId)}/displayname`, { body: { displayname: 'Bob the Builder' } });
    roomId = (await alice.http.ok<{ room_id: string }>('POST', '/createRoom', { body: { preset: 'public_chat', name: 'Harbour bridges', topic: 'Talk about ferries' } })).room_id;
    await bob.http.ok('POST', `/rooms/${enc(roomId)}/join`, { body: {} });
  });

  afterAll(async () => {
    for (const c of clients) c.stopClient();
    await hs?.stop();
  });

  it('matrix-js-sdk searches messages, with context and profiles, and pages back through next_batch', async () => {
    await send(alice, 'Before the first lighthouse message');
    const first = await send(bob, 'The lighthouse keeper waves');
    await send(alice, 'Between the lighthouses');
    for (let i = 0; i < 12; i++) await send(bob, `lighthouse log entry ${i}`);
    const client = await startSdkClient(hs.url, alice);
    clients.push(client);
    const page = await client.searchRoomEvents({ term: 'lighthouse' });
    expect(page.count).toBe(15);
    expect(page.highlights).toEqual(['lighthouse']);
    expect(page.results).toHaveLength(10);
    expect(page.results[0]!.context.getEvent().getContent().body).toBe('lighthouse log entry 11'); // recent first
    const all = await client.backPaginateRoomEventsSearch(page);
    const bodies = all.results.map((r) => r.context.getEvent().getContent().body as string);
    expect(bodies).toHaveLength(15);
    expect(new Set(bodies).size).toBe(15);
    // Prefix matching: "lighthouses" is found by "lighthouse".
    expect(bodies).toContain('Between the lighthouses');
    const hit = all.results.find((r) => r.context.getEvent().getId() === first)!;
    expect(hit.context.getTimeline().map((e) => e.getContent().body)).toEqual([
      'Before the first lighthouse message',
      'The lighthouse keeper waves',
      'Between the lighthouses',
    ]);
    expect(hit.context.getEvent().sender?.name).toBe('Bob the Builder');
  });

  it('orders by rank or by recency and pages without repeats, with groups, state and the keys asked for', async () => {
    const a = await send(alice, 'kelp kelp kelp forest');
    const b = await send(alice, 'a kelp leaf in a long sentence about many other things');
    const c = await send(bob, 'kelp');
    const recent = await found(alice, { search_term: 'kelp', order_by: 'recent' });
    expect(recent.results.map((r) => r.result.event_id)).toEqual([c, b, a]);
    const ranked = await found(alice, { search_term: 'KELP', order_by: 'rank' });
    expect(ranked.results.map((r) => r.result.event_id)).toHaveLength(3);
    expect(ranked.results[ranked.results.length - 1]!.result.event_id).toBe(b); // the long, diluted one last
    expect(ranked.results[0]!.rank).toBeGreaterThanOrEqual(ranked.results[2]!.rank);

    for (const order_by of ['rank', 'recent']) {
      const seen: string[] = [];
      let next: string | undefined;
      do {
        const res = await search(alice, { search_term: 'kelp', order_by, filter: { limit: 1 } }, next);
        expect(res.status).toBe(200);
        seen.push(...res.body.search_categories.room_events.results.map((r) => r.result.event_id));
        next = res.body.search_categories.room_events.next_batch;
      } while (next !== undefined);
      expect(seen.sort()).toEqual([a, b, c].sort());
    }

    const grouped = await found(alice, { search_term: 'kelp', groupings: { group_by: [{ key: 'room_id' }, { key: 'sender' }] }, include_state: true });
    expect(grouped.groups?.['room_id']?.[roomId]).toEqual({ order: 1, results: grouped.results.map((r) => r.result.event_id) });
    expect(Object.keys(grouped.groups?.['sender'] ?? {}).sort()).toEqual([alice.userId, bob.userId].sort());
    expect(grouped.state?.[roomId]?.length).toBeGreaterThan(3);

    const names = await found(alice, { search_term: 'harbour' });
    expect(names.results.map((r) => r.result.content['name'])).toEqual(['Harbour bridges']);
    expect((await found(alice, { search_term: 'ferries', keys: ['content.topic'] })).results).toHaveLength(1);
    expect((await found(alice, { search_term: 'ferries', keys: ['content.body'] })).results).toHaveLength(0);
    expect((await found(alice, { search_term: 'kelp', filter: { senders: [bob.userId] } })).results.map((r) => r.result.event_id)).toEqual([c]);
    expect((await found(alice, { search_term: 'kelp', filter: { not_rooms: [roomId] } })).results).toHaveLength(0);
  });

  it('finds only what history visibility lets the searcher see', async () => {
    const carol = await registerUser(hs.url, 'carol');
    const room = (await alice.http.ok<{ room_id: string }>('POST', '/createRoom', { body: { preset: 'public_chat' } })).room_id;
    await alice.http.ok('PUT', `/rooms/${enc(room)}/state/m.room.history_visibility/`, { body: { history_visibility: 'joined' } });
    await send(alice, 'secret walrus plans', room);
    expect((await found(carol, { search_term: 'walrus' })).count).toBe(0);
    await carol.http.ok('POST', `/rooms/${enc(room)}/join`, { body: {} });
    const after = await send(alice, 'public walrus news', room);
    const seen = await found(carol, { search_term: 'walrus' });
    expect(seen.results.map((r) => r.result.event_id)).toEqual([after]);
    expect(seen.count).toBe(1);
    // Bob was never in the room: nothing of it.
    expect((await found(bob, { search_term: 'walrus' })).count).toBe(0);
    // After leaving, what was visible stays findable; what came later is not.
    await carol.http.ok('POST', `/rooms/${enc(room)}/leave`, { body: {} });
    await send(alice, 'later walrus', room);
    expect((await found(carol, { search_term: 'walrus' })).results.map((r) => r.result.event_id)).toEqual([after]);
  });

  it('drops a redacted message from the index', async () => {
    const id = await send(bob, 'embarrassing platypus typo');
    expect((await found(alice, { search_term: 'platypus' })).results.map((r) => r.result.event_id)).toEqual([id]);
    await bob.http.ok('PUT', `/rooms/${enc(roomId)}/redact/${enc(id)}/r1`, { body: {} });
    expect((await found(alice, { search_term: 'platypus' })).count).toBe(0);
  });

  it('treats every term as words: FTS5 syntax in a term never fails the search', async () => {
    await send(alice, 'NEAR the quay, OR maybe not: col:x "quoted" star*');
    for (const term of ['"', 'NEAR(', '*', 'OR', 'AND NOT', 'col:x', '^quay', 'quay"', '""quoted', 'star*', '(', '-', '', '   ', 'NEAR(quay maybe, 2)']) {
      const res = await search(alice, { search_term: term });
      expect({ term, status: res.status }).toEqual({ term, status: 200 });
    }
    expect((await found(alice, { search_term: 'NEAR(quay' })).results).toHaveLength(1);
    expect((await found(alice, { search_term: '"quoted' })).results).toHaveLength(1);
  });

  it('rejects malformed criteria with the spec errors', async () => {
    const status = async (b: JsonObject, nextBatch?: string): Promise<[number, unknown]> => {
      const res = await alice.http.request<{ errcode: string }>('POST', '/search', { body: b, ...(nextBatch && { query: { next_batch: nextBatch } }) });
      return [res.status, res.body.errcode];
    };
    expect(await status({})).toEqual([400, 'M_MISSING_PARAM']);
    expect(await status({ search_categories: { room_events: {} } })).toEqual([400, 'M_MISSING_PARAM']);
    expect(await status({ search_categories: { room_events: { search_term: 5 } } })).toEqual([400, 'M_BAD_JSON']);
    expect(await status({ search_categories: { room_events: { search_term: 'x', keys: ['content.nope'] } } })).toEqual([400, 'M_BAD_JSON']);
    expect(await status({ search_categories: { room_events: { search_term: 'x', order_by: 'random' } } })).toEqual([400, 'M_BAD_JSON']);
    expect(await status({ search_categories: { room_events: { search_term: 'x' } } }, 'garbage')).toEqual([400, 'M_INVALID_PARAM']);
    expect(await status({ search_categories: { room_events: { search_term: 'x', order_by: 'recent' } } }, 'r5')).toEqual([400, 'M_INVALID_PARAM']);
    expect((await alice.http.request('POST', '/search', { body: { search_categories: {} } })).body).toEqual({ search_categories: {} });
  });
});
