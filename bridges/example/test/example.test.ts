// The example bridge driven as a Matrix user drives it, on the real stack from the plugin test kit
// (Redis, the embedded homeserver, the event pipeline, the plugin host): every command, the alias
// portal, third-party lookups. A plugin author's tests look like this.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { enc, startPluginStack, waitFor, type PluginStack, type TestUser } from 'patchbay-matrix/plugin/testing';
import createExampleBridge, { type ExampleRecord } from '../index.js';

interface TimelineEvent {
  event_id: string;
  type: string;
  sender: string;
  content: Record<string, unknown>;
}

const ECHO = '@example_echo:localhost';
const PERMANENT = 'patchbay_plugin_events_total{bridge="example",outcome="permanent"}';
const ERROR = 'patchbay_plugin_events_total{bridge="example",outcome="error"}';

describe('the example bridge on the real stack', () => {
  let stack: PluginStack;
  let alice: TestUser;
  let txn = 0;

  const timeline = async (roomId: string): Promise<TimelineEvent[]> =>
    (await alice.http.ok<{ chunk: TimelineEvent[] }>('GET', `/rooms/${enc(roomId)}/messages`, { query: { dir: 'b', limit: 100 } })).chunk.reverse();
  const say = async (roomId: string, body: string): Promise<string> =>
    (await alice.http.ok<{ event_id: string }>('PUT', `/rooms/${enc(roomId)}/send/m.room.message/t${txn++}`, { body: { msgtype: 'm.text', body } })).event_id;
  const records = async (): Promise<ExampleRecord[]> => (await stack.context('example').store.readList('received')).map((r) => JSON.parse(r) as ExampleRecord);
  /** A private room with only the echo ghost invited: the bot is not in it. */
  const roomWithEcho = async (): Promise<string> => {
    const { room_id: roomId } = await alice.http.ok<{ room_id: string }>('POST', '/createRoom', { body: { preset: 'private_chat', invite: [ECHO] } });
    await waitFor(async () => ECHO in (await alice.http.ok<{ joined: Record<string, unknown> }>('GET', `/rooms/${enc(roomId)}/joined_members`)).joined, 20_000, 'the echo ghost to join');
    return roomId;
  };
  const notices = async (roomId: string): Promise<TimelineEvent[]> => (await timeline(roomId)).filter((e) => e.content.msgtype === 'm.notice');
  const metric = async (line: string): Promise<number> => Number(new RegExp(`^${line.replace(/[{}"=]/g, '\\$&')} (\\S+)$`, 'm').exec(await stack.metrics())?.[1] ?? 0);

  beforeAll(async () => {
    stack = await startPluginStack({ bridges: { example: { factory: createExampleBridge } } });
    alice = await stack.registerUser('alice');
  });

  afterAll(async () => {
    await stack?.stop();
  });

  it('!echo: the echo ghost (made on the invite) answers as a reply, once', async () => {
    const roomId = await roomWithEcho();
    const sent = await say(roomId, '!echo hello there');
    const echo = await waitFor(async () => (await timeline(roomId)).find((e) => e.sender === ECHO && e.type === 'm.room.message'), 20_000, 'the echo');
    expect(echo.content).toMatchObject({ msgtype: 'm.text', body: 'hello there', 'm.relates_to': { 'm.in_reply_to': { event_id: sent } } });
    await waitFor(async () => (await records()).some((r) => r.event_id === echo.event_id), 20_000, 'the echo recorded');
    const ids = (await records()).map((r) => r.event_id);
    expect(new Set(ids).size).toBe(ids.length);
    expect((await records()).find((r) => r.event_id === echo.event_id)?.fromBridge).toBe(true);
    expect(await metric('patchbay_example_echoes_total')).toBeGreaterThanOrEqual(1);
  });

  it('!link: links a room only its ghost is in, gives it the alias, and says so from the ghost', async () => {
    const roomId = await roomWithEcho();
    const command = await say(roomId, '!link lobby');
    const linked = await waitFor(async () => (await notices(roomId)).find((e) => String(e.content.body).startsWith('Linked')), 20_000, 'the Linked notice');
    expect(linked.sender).toBe(ECHO);
    expect(linked.content.body).toBe('Linked this room to example/lobby (#example_lobby:localhost).');
    expect(await stack.context('example').links.roomFor({ network: 'example', location: 'lobby' })).toBe(roomId);
    const alias = await alice.http.ok<{ room_id: string }>('GET', `/directory/room/${enc('#example_lobby:localhost')}`);
    expect(alias.room_id).toBe(roomId);
    // No second room was made for the alias, and the command was not dead-lettered.
    expect((await stack.context('example').links.all('example')).filter((l) => l.location === 'lobby')).toHaveLength(1);
    expect((await records()).some((r) => r.event_id === command)).toBe(true);
  });

  it('!link: refuses a name whose alias is another room\'s, at once, saying why', async () => {
    const roomId = await roomWithEcho();
    const command = await say(roomId, '!link lobby');
    const refused = await waitFor(async () => (await notices(roomId)).find((e) => String(e.content.body).includes(command)), 20_000, 'the refusal');
    expect(refused.content.body).toBe(`⚠️ Could not bridge a message from ${alice.userId} (${command}): #example_lobby:localhost is already the alias of another room`);
  });

  it('!dm: the named user\'s ghost opens a conversation with the sender, once', async () => {
    const roomId = await roomWithEcho();
    await say(roomId, '!dm bob');
    await say(roomId, '!dm bob');
    const invite = await waitFor(async () => {
      const sync = await alice.http.ok<{ rooms?: { invite?: Record<string, unknown> } }>('GET', '/sync', { query: { timeout: 0 } });
      return Object.keys(sync.rooms?.invite ?? {})[0];
    }, 20_000, 'the invite');
    await alice.http.ok('POST', `/join/${enc(invite)}`, { body: {} });
    const hello = await waitFor(async () => (await timeline(invite)).find((e) => e.type === 'm.room.message'), 20_000, 'the hello');
    expect(hello).toMatchObject({ sender: '@example_bob:localhost', content: { body: 'Hello, this is bob on the example network.' } });
    const portal = { network: 'example', location: 'bob', receiver: alice.userId };
    expect(await stack.context('example').portals.roomFor(portal)).toBe(invite);
    await waitFor(async () => (await records()).filter((r) => r.body === '!dm bob').length === 2, 20_000, 'both commands handled');
    expect((await timeline(invite)).filter((e) => e.type === 'm.room.message')).toHaveLength(1);
  });

  it('!refuse: dead-letters at once with the reason; !fail: retried, then dead-lettered', async () => {
    const roomId = await roomWithEcho();
    const [permanent, errors] = [await metric(PERMANENT), await metric(ERROR)];
    const refused = await say(roomId, '!refuse not on this network');
    const notice = await waitFor(async () => (await notices(roomId)).find((e) => String(e.content.body).includes(refused)), 20_000, 'the refusal');
    expect(notice.content.body).toBe(`⚠️ Could not bridge a message from ${alice.userId} (${refused}): not on this network`);
    expect((await metric(PERMANENT)) - permanent).toBe(1);
    const failing = await say(roomId, '!fail the remote network is down');
    const failed = await waitFor(async () => (await notices(roomId)).find((e) => String(e.content.body).includes(failing)), 30_000, 'the dead-letter notice');
    expect(failed.sender).toBe(ECHO);
    expect(failed.content.body).toBe(`⚠️ Could not bridge a message from ${alice.userId} (${failing}): the remote network is down`);
    // The stack tries an event 3 times (host.handler_attempts).
    expect((await metric(ERROR)) - errors).toBe(3);
  });

  it('acknowledges a reaction it cannot carry, without a notice', async () => {
    const roomId = await roomWithEcho();
    const target = await say(roomId, 'react to me');
    await alice.http.ok('PUT', `/rooms/${enc(roomId)}/send/m.reaction/r${txn++}`, { body: { 'm.relates_to': { rel_type: 'm.annotation', event_id: target, key: '👍' } } });
    await waitFor(async () => (await metric('patchbay_plugin_events_total{bridge="example",outcome="ignored"}')) === 1, 20_000, 'the reaction ignored');
    expect(await notices(roomId)).toEqual([]);
  });

  it('makes a place\'s portal when someone joins its alias, and answers third-party lookups', async () => {
    const joined = await alice.http.ok<{ room_id: string }>('POST', `/join/${enc('#example_hall:localhost')}`, { body: {} });
    expect(await stack.context('example').portals.roomFor({ network: 'example', location: 'hall' })).toBe(joined.room_id);
    expect(await alice.http.ok('GET', '/thirdparty/location/example', { query: { name: 'hall' } })).toEqual([
      { alias: '#example_hall:localhost', protocol: 'example', fields: { name: 'hall' } },
    ]);
    expect(await alice.http.ok('GET', '/thirdparty/location', { query: { alias: '#example_hall:localhost' } })).toEqual([
      { alias: '#example_hall:localhost', protocol: 'example', fields: { name: 'hall' } },
    ]);
    expect(await alice.http.ok('GET', '/thirdparty/user/example', { query: { name: 'dave' } })).toEqual([
      { userid: '@example_dave:localhost', protocol: 'example', fields: { name: 'dave' } },
    ]);
  });
});
