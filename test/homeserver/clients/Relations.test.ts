// Threads and edits as clients use them: matrix-js-sdk (with server-side threads, as Element runs it)
// opens a thread, replies, edits and follows a permalink to an edited message; raw HTTP checks the
// endpoints' details (pagination, recursion, history visibility, thread receipts) against the spec data.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as sdk from 'matrix-js-sdk';
import {
  enc,
  registerUser,
  SpecValidator,
  startSdkClient,
  startTestHomeserver,
  waitFor,
  type HttpMethod,
  type JsonObject,
  type MatrixResponse,
  type TestHomeserver,
  type TestUser,
} from '../../harness/index.js';

const spec = SpecValidator.load();

interface Ev {
  event_id: string;
  type: string;
  sender: string;
  content: JsonObject;
  unsigned?: { 'm.relations'?: Record<string, JsonObject> };
}

describe('threads and edits', () => {
  let hs: TestHomeserver;
  let alice: TestUser;
  let bob: TestUser;
  let aliceSdk: sdk.MatrixClient;
  const clients: sdk.MatrixClient[] = [];
  let roomId = '';
  let txn = 0;

  async function conforms(apiFile: string, path: string, method: HttpMethod, res: MatrixResponse<unknown>): Promise<void> {
    if (!spec) return;
    const errors = await spec.validateResponse(apiFile, path, method, res.status, res.body);
    expect({ path, errors }).toEqual({ path, errors: [] });
  }

  async function send(user: TestUser, content: JsonObject, type = 'm.room.message', room = roomId): Promise<string> {
    txn += 1;
    const res = await user.http.ok<{ event_id: string }>('PUT', `/rooms/${enc(room)}/send/${type}/r${txn}`, { body: content });
    return res.event_id;
  }

  const inThread = (root: string, body: string): JsonObject => ({ msgtype: 'm.text', body, 'm.relates_to': { rel_type: 'm.thread', event_id: root } });
  const v1 = (path: string): string => `/_matrix/client/v1${path}`;

  beforeAll(async () => {
    hs = await startTestHomeserver();
    alice = await registerUser(hs.url, 'alice');
    bob = await registerUser(hs.url, 'bob');
    roomId = (await alice.http.ok<{ room_id: string }>('POST', '/createRoom', { body: { preset: 'public_chat', name: 'threads' } })).room_id;
    await bob.http.ok('POST', `/rooms/${enc(roomId)}/join`, { body: {} });
    aliceSdk = await startSdkClient(hs.url, alice, { threadSupport: true });
    clients.push(aliceSdk);
  });

  afterAll(async () => {
    for (const c of clients) c.stopClient();
    await hs?.stop();
  });

  it('matrix-js-sdk opens a thread; replies land in it, and a client starting later sees the thread from the server', async () => {
    const bobSdk = await startSdkClient(hs.url, bob, { threadSupport: true });
    clients.push(bobSdk);
    const { event_id: root } = await aliceSdk.sendTextMessage(roomId, 'Shall we talk about bridges?');
    await waitFor(() => bobSdk.getRoom(roomId)?.findEventById(root), 20_000, 'the root at bob');
    await bobSdk.sendMessage(roomId, root, { msgtype: sdk.MsgType.Text, body: "Yes, IRC first" });
    await bobSdk.sendMessage(roomId, root, { msgtype: sdk.MsgType.Text, body: "then SIP" });
    const thread = await waitFor(() => {
      const t = aliceSdk.getRoom(roomId)?.getThread(root);
      return t && t.length === 2 ? t : null;
    }, 20_000, 'a thread of two replies at alice');
    expect(thread.replyToEvent?.getContent().body).toBe('then SIP');
    // The replies are in the thread, not in the room's main timeline.
    const main = aliceSdk.getRoom(roomId)!.getLiveTimeline().getEvents().map((e) => e.getContent().body);
    expect(main).toContain('Shall we talk about bridges?');
    expect(main).not.toContain('then SIP');

    // A client starting now learns the thread from the root's bundled aggregation and from /threads.
    const carol = await registerUser(hs.url, 'carol');
    await carol.http.ok('POST', `/rooms/${enc(roomId)}/join`, { body: {} });
    const carolSdk = await startSdkClient(hs.url, carol, { threadSupport: true });
    clients.push(carolSdk);
    const carolRoom = carolSdk.getRoom(roomId)!;
    await carolRoom.fetchRoomThreads();
    const seen = await waitFor(() => {
      const t = carolRoom.getThread(root);
      return t && t.length === 2 ? t : null;
    }, 20_000, 'the thread at carol');
    expect(seen.rootEvent?.getContent().body).toBe('Shall we talk about bridges?');
  });

  it('bundles m.thread on the root (count, latest event, participation) and lists threads, validated against the spec', async () => {
    const root = await send(alice, { msgtype: 'm.text', body: 'root of a raw thread' });
    const r1 = await send(bob, inThread(root, 'reply one'));
    const r2 = await send(bob, inThread(root, 'reply two'));
    const ev = await alice.http.get<Ev>(`/rooms/${enc(roomId)}/event/${enc(root)}`);
    const bundle = ev.body.unsigned?.['m.relations']?.['m.thread'] as { count: number; latest_event: Ev; current_user_participated: boolean };
    expect(bundle.count).toBe(2);
    expect(bundle.latest_event.event_id).toBe(r2);
    expect(bundle.current_user_participated).toBe(true); // alice sent the root
    const asBob = await bob.http.get<Ev>(`/rooms/${enc(roomId)}/event/${enc(root)}`);
    expect((asBob.body.unsigned?.['m.relations']?.['m.thread'] as { current_user_participated: boolean }).current_user_participated).toBe(true);

    const messages = await alice.http.get<{ chunk: Ev[] }>(`/rooms/${enc(roomId)}/messages`, { query: { dir: 'b', limit: 10 } });
    await conforms('client-server/message_pagination.yaml', '/rooms/{roomId}/messages', 'get', messages);
    expect(messages.body.chunk.find((e) => e.event_id === root)?.unsigned?.['m.relations']?.['m.thread']).toMatchObject({ count: 2 });

    // Relations, newest first, a page at a time.
    const page1 = await alice.http.get<{ chunk: Ev[]; next_batch?: string }>(v1(`/rooms/${enc(roomId)}/relations/${enc(root)}/m.thread`), { query: { limit: 1 } });
    await conforms('client-server/relations.yaml', '/rooms/{roomId}/relations/{eventId}/{relType}', 'get', page1);
    expect(page1.body.chunk.map((e) => e.event_id)).toEqual([r2]);
    const page2 = await alice.http.get<{ chunk: Ev[]; next_batch?: string; prev_batch?: string }>(v1(`/rooms/${enc(roomId)}/relations/${enc(root)}/m.thread`), {
      query: { limit: 1, from: page1.body.next_batch },
    });
    expect(page2.body.chunk.map((e) => e.event_id)).toEqual([r1]);
    expect(page2.body.prev_batch).toBe(page1.body.next_batch);
    const forwards = await alice.http.get<{ chunk: Ev[]; next_batch?: string }>(v1(`/rooms/${enc(roomId)}/relations/${enc(root)}/m.thread/m.room.message`), { query: { dir: 'f' } });
    await conforms('client-server/relations.yaml', '/rooms/{roomId}/relations/{eventId}/{relType}/{eventType}', 'get', forwards);
    expect(forwards.body.chunk.map((e) => e.event_id)).toEqual([r1, r2]);
    expect(forwards.body.next_batch).toBeUndefined();
    const wrongType = await alice.http.get<{ chunk: Ev[] }>(v1(`/rooms/${enc(roomId)}/relations/${enc(root)}/m.thread/m.sticker`));
    expect(wrongType.body.chunk).toEqual([]);

    // A reaction to a reply relates to the root only indirectly: found with recurse.
    const reaction = await send(alice, { 'm.relates_to': { rel_type: 'm.annotation', event_id: r1, key: '👍' } }, 'm.reaction');
    const direct = await alice.http.get<{ chunk: Ev[] }>(v1(`/rooms/${enc(roomId)}/relations/${enc(root)}`));
    expect(direct.body.chunk.map((e) => e.event_id)).not.toContain(reaction);
    const deep = await alice.http.get<{ chunk: Ev[]; recursion_depth?: number }>(v1(`/rooms/${enc(roomId)}/relations/${enc(root)}`), { query: { recurse: 'true' } });
    await conforms('client-server/relations.yaml', '/rooms/{roomId}/relations/{eventId}', 'get', deep);
    expect(deep.body.chunk.map((e) => e.event_id)).toEqual([reaction, r2, r1]);
    expect(deep.body.recursion_depth).toBe(3);

    // Threads, most recently active first; "participated" is bob's threads, not dave's.
    const threads = await alice.http.get<{ chunk: Ev[]; next_batch?: string }>(v1(`/rooms/${enc(roomId)}/threads`), { query: { limit: 1 } });
    await conforms('client-server/threads_list.yaml', '/rooms/{roomId}/threads', 'get', threads);
    expect(threads.body.chunk.map((e) => e.event_id)).toEqual([root]);
    expect(threads.body.chunk[0]!.unsigned?.['m.relations']?.['m.thread']).toMatchObject({ count: 2 });
    const older = await alice.http.get<{ chunk: Ev[] }>(v1(`/rooms/${enc(roomId)}/threads`), { query: { from: threads.body.next_batch } });
    expect(older.body.chunk.length).toBe(1); // the thread the sdk opened
    const dave = await registerUser(hs.url, 'dave');
    await dave.http.ok('POST', `/rooms/${enc(roomId)}/join`, { body: {} });
    const mine = await dave.http.get<{ chunk: Ev[] }>(v1(`/rooms/${enc(roomId)}/threads`), { query: { include: 'participated' } });
    expect(mine.body.chunk).toEqual([]);
    expect((await bob.http.get<{ chunk: Ev[] }>(v1(`/rooms/${enc(roomId)}/threads`), { query: { include: 'participated' } })).body.chunk.length).toBe(2);
  });

  it('refuses a thread off an event that relates to another, and a receipt for the wrong thread', async () => {
    const root = await send(alice, { msgtype: 'm.text', body: 'another root' });
    const reply = await send(bob, inThread(root, 'in the thread'));
    const bad = await bob.http.put(`/rooms/${enc(roomId)}/send/m.room.message/nested${Date.now()}`, inThread(reply, 'a thread of a thread'));
    expect(bad.status).toBe(400);
    expect(bad.body.errcode).toBe('M_UNKNOWN');

    const receipt = (eventId: string, threadId: string): Promise<MatrixResponse<JsonObject>> =>
      alice.http.post(`/rooms/${enc(roomId)}/receipt/m.read/${enc(eventId)}`, { thread_id: threadId });
    expect((await receipt(reply, root)).status).toBe(200);
    expect((await receipt(root, 'main')).status).toBe(200);
    const wrong = await receipt(reply, 'main');
    expect(wrong.status).toBe(400);
    expect(wrong.body.errcode).toBe('M_INVALID_PARAM');
  });

  it('shows neither the parent nor children from before a joined-only member\'s join', async () => {
    const { room_id: quiet } = await alice.http.ok<{ room_id: string }>('POST', '/createRoom', {
      body: { preset: 'public_chat', initial_state: [{ type: 'm.room.history_visibility', state_key: '', content: { history_visibility: 'joined' } }] },
    });
    const root = await send(alice, { msgtype: 'm.text', body: 'before erin' }, 'm.room.message', quiet);
    await send(alice, inThread(root, 'also before erin'), 'm.room.message', quiet);
    // (A raw client: matrix-js-sdk would ask for the thread root it may not see, and log the 404.)
    const erin = await registerUser(hs.url, 'erin');
    await erin.http.ok('POST', `/rooms/${enc(quiet)}/join`, { body: {} });
    const after = await send(alice, inThread(root, 'after erin joined'), 'm.room.message', quiet);
    const hidden = await erin.http.get(v1(`/rooms/${enc(quiet)}/relations/${enc(root)}`));
    expect(hidden.status).toBe(404);
    expect((await erin.http.get<{ chunk: Ev[] }>(v1(`/rooms/${enc(quiet)}/threads`))).body.chunk).toEqual([]);
    const all = await alice.http.get<{ chunk: Ev[] }>(v1(`/rooms/${enc(quiet)}/relations/${enc(root)}`));
    expect(all.body.chunk.length).toBe(2);
    expect((await erin.http.get<Ev>(`/rooms/${enc(quiet)}/event/${enc(after)}`)).status).toBe(200);
    // A thread erin saw start: after she leaves, its new replies neither count nor show for her.
    const root2 = await send(alice, { msgtype: 'm.text', body: 'while erin is here' }, 'm.room.message', quiet);
    const seenReply = await send(alice, inThread(root2, 'erin sees this'), 'm.room.message', quiet);
    await erin.http.ok('POST', `/rooms/${enc(quiet)}/leave`, { body: {} });
    await send(alice, inThread(root2, 'erin is gone'), 'm.room.message', quiet);
    const asErin = await erin.http.get<Ev>(`/rooms/${enc(quiet)}/event/${enc(root2)}`);
    expect(asErin.body.unsigned?.['m.relations']?.['m.thread']).toMatchObject({ count: 1, latest_event: { event_id: seenReply } });
    const asAlice = await alice.http.get<Ev>(`/rooms/${enc(quiet)}/event/${enc(root2)}`);
    expect(asAlice.body.unsigned?.['m.relations']?.['m.thread']).toMatchObject({ count: 2 });
  });

  it('edits: the original keeps its content and carries the newest valid edit; the sdk shows the edit', async () => {
    const bobSdk = clients[1]!;
    const { event_id: original } = await aliceSdk.sendTextMessage(roomId, 'I like cake');
    await waitFor(() => bobSdk.getRoom(roomId)?.findEventById(original), 20_000, 'the original at bob');
    await aliceSdk.sendMessage(roomId, {
      msgtype: sdk.MsgType.Text,
      body: '* I like chocolate cake',
      'm.new_content': { msgtype: sdk.MsgType.Text, body: 'I like chocolate cake' },
      'm.relates_to': { rel_type: sdk.RelationType.Replace, event_id: original },
    });
    await waitFor(() => bobSdk.getRoom(roomId)?.findEventById(original)?.getContent().body === 'I like chocolate cake', 20_000, 'the edit at bob');

    // Someone else's "edit" is ignored, and so is a redacted one.
    const forged = await send(bob, { msgtype: 'm.text', body: '* hacked', 'm.new_content': { msgtype: 'm.text', body: 'hacked' }, 'm.relates_to': { rel_type: 'm.replace', event_id: original } });
    const latest = await send(alice, { msgtype: 'm.text', body: '* I like lemon cake', 'm.new_content': { msgtype: 'm.text', body: 'I like lemon cake' }, 'm.relates_to': { rel_type: 'm.replace', event_id: original } });
    const bundled = async (): Promise<Ev | undefined> =>
      (await bob.http.get<Ev>(`/rooms/${enc(roomId)}/event/${enc(original)}`)).body.unsigned?.['m.relations']?.['m.replace'] as unknown as Ev | undefined;
    const ev = await bob.http.get<Ev>(`/rooms/${enc(roomId)}/event/${enc(original)}`);
    expect(ev.body.content.body).toBe('I like cake');
    expect((await bundled())?.event_id).toBe(latest);
    expect(forged).not.toBe(latest);
    await alice.http.ok('PUT', `/rooms/${enc(roomId)}/redact/${enc(latest)}/undo${Date.now()}`, { body: {} });
    expect((await bundled())?.content['m.new_content']).toEqual({ msgtype: 'm.text', body: 'I like chocolate cake' });

    // /context and /messages bundle it too; a client following a permalink shows the edited text.
    const context = await bob.http.get<{ event: Ev }>(`/rooms/${enc(roomId)}/context/${enc(original)}`, { query: { limit: 2 } });
    await conforms('client-server/event_context.yaml', '/rooms/{roomId}/context/{eventId}', 'get', context);
    expect((context.body.event.unsigned?.['m.relations']?.['m.replace'] as unknown as Ev).content.body).toBe('* I like chocolate cake');
    const dave = await registerUser(hs.url, `dave${Date.now()}`);
    await dave.http.ok('POST', `/rooms/${enc(roomId)}/join`, { body: {} });
    const daveSdk = await startSdkClient(hs.url, dave, { threadSupport: true, timelineSupport: true, initialSyncLimit: 1 });
    clients.push(daveSdk);
    const room = daveSdk.getRoom(roomId)!;
    const timeline = await daveSdk.getEventTimeline(room.getUnfilteredTimelineSet(), original);
    const seen = timeline?.getEvents().find((e) => e.getId() === original);
    expect(seen?.getContent().body).toBe('I like chocolate cake');

    // Redacting the original drops the bundle.
    await alice.http.ok('PUT', `/rooms/${enc(roomId)}/redact/${enc(original)}/gone${Date.now()}`, { body: {} });
    expect(await bundled()).toBeUndefined();
  });
});
