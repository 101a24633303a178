// The plugin runtime against the real embedded homeserver, over HTTP only, with the real event pipeline
// in front of it: what `patchbay start` composes, with the example bridge.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { builtinBridges } from '../../../bridges/registry.js';
import type { ExampleRecord } from '../../../bridges/example/index.js';
import { ClientServerApi } from '../../../core/matrix/ClientServerApi.js';
import { IntentCaches } from '../../../core/matrix/IntentCaches.js';
import { MatrixIntent } from '../../../core/matrix/MatrixIntent.js';
import { outboxTxnId } from '../../../core/outbox/OutboxJob.js';
import type { BridgeContext } from '../../../core/plugin-api/index.js';
import { PluginLoader } from '../../../core/plugin/PluginLoader.js';
import { enc, registerUser, startBridgeStack, waitFor, type BridgeStack, type TestHomeserver, type TestUser } from '../../harness/index.js';

interface TimelineEvent {
  event_id: string;
  type: string;
  sender: string;
  state_key?: string;
  content: Record<string, unknown>;
}

describe('plugin runtime with the embedded homeserver and the event pipeline', () => {
  let stack: BridgeStack;
  let hs: TestHomeserver;
  let asToken = '';
  let alice: TestUser;
  let ctx: BridgeContext;

  const timeline = async (roomId: string): Promise<TimelineEvent[]> => {
    const res = await alice.http.get<{ chunk: TimelineEvent[] }>(`/rooms/${enc(roomId)}/messages`, { query: { dir: 'b', limit: 200 } });
    expect(res.status).toBe(200);
    return res.body.chunk.reverse();
  };
  const records = async (): Promise<ExampleRecord[]> => (await ctx.store.readList('received')).map((r) => JSON.parse(r) as ExampleRecord);

  beforeAll(async () => {
    stack = await startBridgeStack({
      appserviceId: 'runtime-e2e',
      bridges: () => new PluginLoader({ builtins: builtinBridges }).load({ example: { enabled: true } }),
    });
    ({ hs, asToken } = stack);
    ctx = stack.host.bridge('example')!.context;
    alice = await registerUser(hs.url, 'alice');
  });

  afterAll(async () => {
    await stack?.stop();
  });

  it('registers a ghost with its profile and joins it to a room on first use', async () => {
    const room = await alice.http.ok<{ room_id: string }>('POST', '/createRoom', { body: { preset: 'public_chat' } });
    const ghost = await ctx.ghosts.intent('libera_Alice', { displayName: 'Alice (IRC)' });
    expect(ghost.userId).toBe('@example_libera_alice:localhost');
    const profile = await alice.http.ok<{ displayname?: string }>('GET', `/profile/${enc(ghost.userId)}`);
    expect(profile.displayname).toBe('Alice (IRC)');
    await ghost.sendEvent(room.room_id, 'm.room.message', { msgtype: 'm.text', body: 'from the ghost' });
    const members = await alice.http.ok<{ joined: Record<string, unknown> }>('GET', `/rooms/${enc(room.room_id)}/joined_members`);
    expect(Object.keys(members.joined)).toContain(ghost.userId);
    const events = await timeline(room.room_id);
    expect(events.filter((e) => e.sender === ghost.userId && e.type === 'm.room.message').map((e) => e.content.body)).toEqual(['from the ghost']);
  });

  it('sets a ghost\'s presence through the plugin API, as Matrix users then see it', async () => {
    const ghost = await ctx.ghosts.intent('libera_Carol', { displayName: 'Carol (IRC)' });
    await ghost.setPresence('online', 'on #matrix');
    expect(await alice.http.ok('GET', `/presence/${enc(ghost.userId)}/status`)).toMatchObject({ presence: 'online', status_msg: 'on #matrix' });
    await ghost.setPresence('unavailable');
    expect(await alice.http.ok('GET', `/presence/${enc(ghost.userId)}/status`)).toMatchObject({ presence: 'unavailable', status_msg: 'on #matrix' });
  });

  it('writes a ghost profile only when it differs, also after a restart (no extra member events)', async () => {
    const room = await alice.http.ok<{ room_id: string }>('POST', '/createRoom', { body: { preset: 'public_chat' } });
    const userId = '@example_bob:localhost';
    const api = new ClientServerApi({ homeserverUrl: hs.url, asToken, logger: stack.logger });
    const fresh = (): MatrixIntent => new MatrixIntent({ userId, api, caches: new IntentCaches(), isSender: false });
    const first = fresh();
    await first.ensureJoined(room.room_id);
    await first.setProfile({ displayName: 'Bob' });
    await first.setProfile({ displayName: 'Bob' });
    await fresh().setProfile({ displayName: 'Bob' }); // a "restarted" host: empty caches
    await fresh().ensureJoined(room.room_id);
    const memberEvents = (await timeline(room.room_id)).filter((e) => e.type === 'm.room.member' && e.state_key === userId);
    // One join (with the default display name the homeserver gave at registration), one display name
    // change; the repeated and the "restarted" calls added nothing.
    expect(memberEvents.map((e) => e.content.displayname ?? null)).toEqual(['example_bob', 'Bob']);
  });

  it('posts an outbox message once however often it is sent, enqueued or replayed by the same ghost', async () => {
    const room = await alice.http.ok<{ room_id: string }>('POST', '/createRoom', { body: { preset: 'public_chat' } });
    const message = { remoteId: 'irc-msg-42', roomId: room.room_id, senderRemoteId: 'carol', type: 'm.room.message', content: { msgtype: 'm.text', body: 'only once' }, timestamp: 1_600_000_000_000 };
    await ctx.outbox.enqueue(message);
    await ctx.outbox.enqueue(message);
    const eventId = await ctx.outbox.send(message);
    // Even with the outbox's memory of it gone, the homeserver's txnId makes a replay return the same event.
    await stack.host.outbox.connection.del(stack.host.keys.outboxResult(outboxTxnId('example', room.room_id, 'irc-msg-42')));
    expect(await ctx.outbox.send(message)).toBe(eventId);
    const posted = (await timeline(room.room_id)).filter((e) => e.type === 'm.room.message');
    expect(posted.map((e) => e.event_id)).toEqual([eventId]);
    const event = await alice.http.ok<{ origin_server_ts: number; sender: string }>('GET', `/rooms/${enc(room.room_id)}/event/${enc(eventId)}`);
    expect(event).toMatchObject({ sender: '@example_carol:localhost', origin_server_ts: 1_600_000_000_000 });
  });

  it('runs the example end to end: a user query creates the invited ghost, it joins, and !echo comes back once', async () => {
    const room = await alice.http.ok<{ room_id: string }>('POST', '/createRoom', { body: { preset: 'private_chat', invite: ['@example_echo:localhost'] } });
    await waitFor(async () => {
      const m = await alice.http.get<{ joined: Record<string, unknown> }>(`/rooms/${enc(room.room_id)}/joined_members`);
      return '@example_echo:localhost' in (m.body.joined ?? {});
    }, 20_000, 'the echo ghost to join');
    const sent = await alice.http.ok<{ event_id: string }>('PUT', `/rooms/${enc(room.room_id)}/send/m.room.message/echo-1`, { body: { msgtype: 'm.text', body: '!echo hello there' } });
    const echo = await waitFor(async () => (await timeline(room.room_id)).find((e) => e.sender === '@example_echo:localhost' && e.type === 'm.room.message'), 20_000, 'the echo');
    expect(echo.content).toMatchObject({ msgtype: 'm.text', body: 'hello there', 'm.relates_to': { 'm.in_reply_to': { event_id: sent.event_id } } });
    const profile = await alice.http.ok<{ displayname?: string }>('GET', `/profile/${enc('@example_echo:localhost')}`);
    expect(profile.displayname).toBe('Echo');
    await waitFor(async () => (await records()).some((r) => r.event_id === echo.event_id), 20_000, 'the echo recorded');
    const ids = (await records()).map((r) => r.event_id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toEqual(expect.arrayContaining([sent.event_id, echo.event_id]));
    expect((await records()).find((r) => r.event_id === echo.event_id)?.fromBridge).toBe(true);
  });

  it('serves third-party lookups through the homeserver, and an alias query creates the portal room', async () => {
    const protocols = await alice.http.ok<Record<string, { user_fields: string[] }>>('GET', '/thirdparty/protocols');
    expect(protocols.example?.user_fields).toEqual(['name']);
    const users = await alice.http.ok<Array<{ userid: string }>>('GET', '/thirdparty/user/example', { query: { name: 'dave' } });
    expect(users).toEqual([{ userid: '@example_dave:localhost', protocol: 'example', fields: { name: 'dave' } }]);
    const back = await alice.http.ok<Array<{ fields: Record<string, string> }>>('GET', '/thirdparty/user', { query: { userid: '@example_dave:localhost' } });
    expect(back).toEqual([{ userid: '@example_dave:localhost', protocol: 'example', fields: { name: 'dave' } }]);
    const locations = await alice.http.ok<Array<{ alias: string }>>('GET', '/thirdparty/location/example', { query: { name: 'lobby' } });
    expect(locations.map((l) => l.alias)).toEqual(['#example_lobby:localhost']);
    const joined = await alice.http.ok<{ room_id: string }>('POST', `/join/${enc('#example_lobby:localhost')}`, { body: {} });
    expect(await ctx.links.roomFor({ network: 'example', location: 'lobby' })).toBe(joined.room_id);
    const reverse = await alice.http.ok<Array<{ fields: Record<string, string> }>>('GET', '/thirdparty/location', { query: { alias: '#example_lobby:localhost' } });
    expect(reverse).toEqual([{ alias: '#example_lobby:localhost', protocol: 'example', fields: { name: 'lobby' } }]);
  });

  it('tells the room when an event could not be bridged after its tries', async () => {
    const room = await alice.http.ok<{ room_id: string }>('POST', '/createRoom', { body: { preset: 'private_chat', invite: ['@example_echo:localhost'] } });
    await waitFor(async () => {
      const m = await alice.http.get<{ joined: Record<string, unknown> }>(`/rooms/${enc(room.room_id)}/joined_members`);
      return '@example_echo:localhost' in (m.body.joined ?? {});
    }, 20_000, 'the echo ghost to join');
    const failing = await alice.http.ok<{ event_id: string }>('PUT', `/rooms/${enc(room.room_id)}/send/m.room.message/fail-1`, { body: { msgtype: 'm.text', body: '!fail the remote network is down' } });
    const notice = await waitFor(async () => (await timeline(room.room_id)).find((e) => e.content.msgtype === 'm.notice'), 30_000, 'the dead-letter notice');
    // The bot is not in this room: the bridge's ghost that is says it.
    expect(notice.sender).toBe('@example_echo:localhost');
    expect(notice.content.body).toBe(`⚠️ Could not bridge a message from ${alice.userId} (${failing.event_id}): the remote network is down`);
    expect((await records()).some((r) => r.event_id === failing.event_id)).toBe(false);
  });
});
