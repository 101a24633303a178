// The IRC plugin through the real stack: event pipeline (AS API, Redis queues), PluginHost and the
// embedded homeserver over HTTP on the Matrix side; a real ngircd on the IRC side. One ngircd, one
// homeserver and one Redis for the suite; the tests run in order and build on each other (nicks, rooms).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { BuiltinBridgeRegistry } from '../../core/plugin-api/index.js';
import { PluginLoader } from '../../core/plugin/PluginLoader.js';
import type { IrcBridge } from '../../bridges/irc/IrcBridge.js';
import { IrcTestClient, type ParsedLine } from '../../bridges/irc/test/IrcTestClient.js';
import { NgircdServer } from '../../bridges/irc/test/NgircdServer.js';
import { enc, registerUser, startBridgeStack, waitFor, type BridgeStack, type TestUser } from '../harness/index.js';

interface TimelineEvent {
  event_id: string;
  type: string;
  sender: string;
  state_key?: string;
  content: Record<string, unknown>;
}

// Only the IRC bridge, whatever bridges/registry.ts holds.
const builtins: BuiltinBridgeRegistry = { irc: async () => (await import('../../bridges/irc/index.js')).default };

describe('IRC bridge end to end (pipeline + host + embedded homeserver + ngircd)', () => {
  const ircd = new NgircdServer();
  let stack: BridgeStack;
  let alice: TestUser;
  let bob: IrcTestClient;
  let roomId = '';
  let dmRoomId = '';
  let txn = 0;
  const bridgeConfig = () => ({
    irc: {
      enabled: true,
      networks: {
        test: {
          host: ircd.host,
          port: ircd.port,
          // One connect at a time: the restart test holds the only slot to order reconnects.
          limits: { lines_per_second: 50, burst: 10, connect_concurrency: 1, connect_interval_ms: 0, reconnect_initial_ms: 50, reconnect_max_ms: 400 },
          quit_debounce: { delay_ms: 0 },
          delay_notice_ms: 1500,
        },
      },
    },
  });

  const timeline = async (room: string): Promise<TimelineEvent[]> => {
    const res = await alice.http.get<{ chunk: TimelineEvent[] }>(`/rooms/${enc(room)}/messages`, { query: { dir: 'b', limit: 500 } });
    return res.body.chunk.reverse();
  };
  const send = async (room: string, content: Record<string, unknown>, type = 'm.room.message'): Promise<string> =>
    (await alice.http.ok<{ event_id: string }>('PUT', `/rooms/${enc(room)}/send/${type}/e2e${++txn}`, { body: content })).event_id;
  const say = (body: string, extra: Record<string, unknown> = {}): Promise<string> => send(roomId, { msgtype: 'm.text', body, ...extra });
  const inMatrix = (room: string, predicate: (e: TimelineEvent) => boolean, what: string): Promise<TimelineEvent> =>
    waitFor(async () => (await timeline(room)).find(predicate), 20_000, what);
  const onIrc = (predicate: (l: ParsedLine) => boolean): Promise<ParsedLine> => bob.waitFor(predicate, 20_000);
  const privmsg = (from: string, text: string) => (l: ParsedLine) => l.command === 'PRIVMSG' && l.nick === from && l.params[1] === text;
  const ircBridge = (): IrcBridge => stack.host.bridge('irc')?.loaded.plugin as IrcBridge;

  beforeAll(async () => {
    await ircd.start();
    bob = new IrcTestClient(ircd.host, ircd.port, 'bob');
    await bob.connect();
    await bob.join('#chat');
    stack = await startBridgeStack({ appserviceId: 'irc-e2e', bridges: () => new PluginLoader({ builtins }).load(bridgeConfig()) });
    alice = await registerUser(stack.hs.url, 'alice');
    await alice.http.ok('PUT', `/profile/${enc(alice.userId)}/displayname`, { body: { displayname: 'Alice' } });
  });

  afterAll(async () => {
    await stack?.stop();
    bob?.close();
    await ircd.stop();
  });

  it('joining #irc_test_#chat creates the portal; the bot joins the channel; bob appears as a ghost', async () => {
    const joined = await alice.http.ok<{ room_id: string }>('POST', `/join/${enc('#irc_test_#chat:localhost')}`, { body: {} });
    roomId = joined.room_id;
    await bob.waitFor((l) => l.command === 'JOIN' && l.nick === 'PatchbayBot');
    await waitFor(async () => {
      const members = await alice.http.ok<{ joined: Record<string, unknown> }>('GET', `/rooms/${enc(roomId)}/joined_members`);
      return Object.keys(members.joined).includes('@irc_test_bob:localhost');
    }, 20_000, 'bob\'s ghost in the portal room');
    // Clients show the room as bridged to the channel (MSC2346), under both names they read.
    const state = await alice.http.ok<Array<{ type: string; state_key: string; content: Record<string, unknown> }>>('GET', `/rooms/${enc(roomId)}/state`);
    const creator = state.find((e) => e.type === 'm.room.create') as { sender?: string } | undefined;
    for (const type of ['m.bridge', 'uk.half-shot.bridge']) {
      const info = state.find((e) => e.type === type);
      expect(info?.state_key).toBe('patchbay://irc/test/%23chat');
      expect(info?.content).toMatchObject({ bridgebot: creator?.sender, creator: creator?.sender, protocol: { id: 'irc', displayname: 'IRC' }, network: { id: 'test' }, channel: { id: '#chat' } });
    }
  });

  it('Matrix -> IRC and IRC -> Matrix text', async () => {
    await alice.http.ok('PUT', `/rooms/${enc(roomId)}/send/m.room.message/t1`, { body: { msgtype: 'm.text', body: 'hello from matrix' } });
    const line = await bob.waitFor((l) => l.command === 'PRIVMSG' && l.params[1] === 'hello from matrix', 20_000);
    expect(line.nick).toBe('Alice[m]');
    bob.send('PRIVMSG #chat :hello from irc');
    const event = await waitFor(async () => (await timeline(roomId)).find((e) => e.content.body === 'hello from irc'), 20_000, 'the IRC message in Matrix');
    expect(event.sender).toBe('@irc_test_bob:localhost');
  });

  it('emote and notice, both ways', async () => {
    await send(roomId, { msgtype: 'm.emote', body: 'waves' });
    await onIrc(privmsg('Alice[m]', '\x01ACTION waves\x01'));
    await send(roomId, { msgtype: 'm.notice', body: 'for your information' });
    await onIrc((l) => l.command === 'NOTICE' && l.nick === 'Alice[m]' && l.params[0] === '#chat' && l.params[1] === 'for your information');
    bob.send('PRIVMSG #chat :\x01ACTION dances\x01');
    bob.send('NOTICE #chat :bob notices');
    const emote = await inMatrix(roomId, (e) => e.content.body === 'dances', 'the IRC action');
    expect(emote).toMatchObject({ sender: '@irc_test_bob:localhost', content: { msgtype: 'm.emote' } });
    const notice = await inMatrix(roomId, (e) => e.content.body === 'bob notices', 'the IRC notice');
    expect(notice).toMatchObject({ sender: '@irc_test_bob:localhost', content: { msgtype: 'm.notice' } });
  });

  it('topic both ways', async () => {
    bob.send('TOPIC #chat :set on IRC');
    await waitFor(async () => {
      const topic = await alice.http.get<{ topic?: string }>(`/rooms/${enc(roomId)}/state/m.room.topic/`);
      return topic.status === 200 && topic.body.topic === 'set on IRC';
    }, 20_000, 'the IRC topic in Matrix');
    // Any member of the portal may change the topic, as on an IRC channel without +t.
    await alice.http.ok('PUT', `/rooms/${enc(roomId)}/state/m.room.topic/`, { body: { topic: 'set in Matrix' } });
    await onIrc((l) => l.command === 'TOPIC' && l.nick === 'Alice[m]' && l.params[1] === 'set in Matrix');
  });

  it('a DM with a ghost reaches the nick, and the answer comes back', async () => {
    const dm = await alice.http.ok<{ room_id: string }>('POST', '/createRoom', { body: { is_direct: true, invite: ['@irc_test_bob:localhost'], preset: 'trusted_private_chat' } });
    dmRoomId = dm.room_id;
    await waitFor(async () => {
      const members = await alice.http.ok<{ joined: Record<string, unknown> }>('GET', `/rooms/${enc(dm.room_id)}/joined_members`);
      return Object.keys(members.joined).includes('@irc_test_bob:localhost');
    }, 20_000, 'the ghost joining the DM');
    await alice.http.ok('PUT', `/rooms/${enc(dm.room_id)}/send/m.room.message/t2`, { body: { msgtype: 'm.text', body: 'psst bob' } });
    await bob.waitFor((l) => l.command === 'PRIVMSG' && l.params[0] === 'bob' && l.params[1] === 'psst bob', 20_000);
    bob.send('PRIVMSG Alice[m] :psst alice');
    await waitFor(async () => (await timeline(dm.room_id)).find((e) => e.content.body === 'psst alice'), 20_000, 'the PM in the DM');
    // A file cannot go to IRC; the bot is not in this DM, so the ghost says so (ctx.notice from a member).
    await send(dm.room_id, { msgtype: 'm.file', body: 'report.pdf', url: 'mxc://localhost/none' });
    const notice = await inMatrix(dm.room_id, (e) => e.content.msgtype === 'm.notice' && String(e.content.body).startsWith('Files are not bridged'), 'the file notice');
    expect(notice.sender).toBe('@irc_test_bob:localhost');
  });

  it('admin room: inviting @irc_bridge gives the help; !whois answers', async () => {
    const admin = await alice.http.ok<{ room_id: string }>('POST', '/createRoom', { body: { is_direct: true, invite: ['@irc_bridge:localhost'], preset: 'trusted_private_chat' } });
    const notices = async (): Promise<string[]> =>
      (await timeline(admin.room_id)).filter((e) => e.sender === '@irc_bridge:localhost' && e.content.msgtype === 'm.notice').map((e) => String(e.content.body));
    await waitFor(async () => (await notices()).find((n) => n.includes('!whois')), 20_000, 'the help notice');
    await alice.http.ok('PUT', `/rooms/${enc(admin.room_id)}/send/m.room.message/t3`, { body: { msgtype: 'm.text', body: '!whois bob' } });
    const answer = await waitFor(async () => (await notices()).find((n) => n.startsWith('bob is')), 20_000, 'the whois answer');
    expect(answer).toContain('~bob@127.0.0.1');
  });

  it('the irc third-party protocol is served through the homeserver', async () => {
    const protocol = await alice.http.get<{ instances: Array<{ network_id: string }> }>('/thirdparty/protocol/irc');
    expect(protocol.status).toBe(200);
    expect(protocol.body.instances.map((i) => i.network_id)).toEqual(['test']);
    const users = await alice.http.get<Array<{ userid: string }>>('/thirdparty/user/irc', { query: { network: 'test', nickname: 'bob' } });
    expect(users.body.map((u) => u.userid)).toEqual(['@irc_test_bob:localhost']);
  });

  it('an IRC kick of a Matrix user\'s puppet is told in the room; the next message rejoins the channel', async () => {
    bob.send('KICK #chat Alice[m] :take a break');
    const notice = await inMatrix(roomId, (e) => e.content.msgtype === 'm.notice' && String(e.content.body).includes('was kicked from #chat'), 'the kick notice');
    expect(notice.sender).toBe('@patchbay:localhost');
    expect(notice.content.body).toBe(`${alice.userId} was kicked from #chat on IRC by bob (take a break). Messages are not reaching IRC; the next one will try to rejoin.`);
    await say('back after the kick');
    await onIrc((l) => l.command === 'JOIN' && l.nick === 'Alice[m]' && l.params[0] === '#chat' && bob.lines.indexOf(l) > bob.lines.findIndex((k) => k.command === 'KICK'));
    await onIrc(privmsg('Alice[m]', 'back after the kick'));
  });

  it('nick changes: an IRC rename renames the same ghost; a Matrix display name change renames the puppet', async () => {
    bob.send('NICK bobby');
    await waitFor(async () => (await alice.http.ok<{ displayname?: string }>('GET', `/profile/${enc('@irc_test_bob:localhost')}`)).displayname === 'bobby', 20_000, 'the ghost renamed');
    const member = await alice.http.ok<{ displayname?: string }>('GET', `/rooms/${enc(roomId)}/state/m.room.member/${enc('@irc_test_bob:localhost')}`);
    expect(member.displayname).toBe('bobby');
    bob.send('PRIVMSG #chat :same person');
    expect((await inMatrix(roomId, (e) => e.content.body === 'same person', 'a message after the rename')).sender).toBe('@irc_test_bob:localhost');
    await alice.http.ok('PUT', `/profile/${enc(alice.userId)}/displayname`, { body: { displayname: 'Alicia' } });
    await onIrc((l) => l.command === 'NICK' && l.nick === 'Alice[m]' && l.params[0] === 'Alicia[m]');
    await say('as Alicia');
    await onIrc(privmsg('Alicia[m]', 'as Alicia'));
  });

  it('after a bridge restart: the renamed IRC user is still the same ghost, and replies still quote', async () => {
    const before = await inMatrix(roomId, (e) => e.content.body === 'hello from irc', 'the earlier IRC message');
    await stack.restartHost();
    // The bot and the puppet come back to the channel.
    await onIrc((l) => l.command === 'JOIN' && l.nick === 'Alicia[m]' && bob.lines.indexOf(l) > bob.lines.findIndex((k) => k.command === 'QUIT' && k.nick === 'Alicia[m]'));
    await waitFor(() => ircBridge().network('test')?.roster.members('#chat').includes('bobby'), 20_000, 'the bot back in #chat');
    bob.send('PRIVMSG #chat :still bobby');
    expect((await inMatrix(roomId, (e) => e.content.body === 'still bobby', 'bobby after the restart')).sender).toBe('@irc_test_bob:localhost');
    // The reply's quote comes from the homeserver (the bridge's memory of the message is gone).
    await say('welcome back', { 'm.relates_to': { 'm.in_reply_to': { event_id: before.event_id } } });
    await onIrc(privmsg('Alicia[m]', 'bobby: "hello from irc" <- welcome back'));
  });

  it('ngircd killed and restarted mid-conversation: no queued message is lost, and both directions work again', async () => {
    const received = (): string[] =>
      bob.lines.filter((l) => l.command === 'PRIVMSG' && l.params[0] === '#chat' && l.nick === 'Alicia[m]' && l.params[1]?.startsWith('conversation ')).map((l) => l.params[1] ?? '');
    for (let i = 1; i <= 3; i++) await say(`conversation ${i}`);
    await onIrc(privmsg('Alicia[m]', 'conversation 3'));
    // Hold the bridge's only connect slot: it cannot reconnect before bob is back in the channel
    // (lines said to a channel nobody is in reach nobody, on any IRC server).
    const hold = await ircBridge().network('test')!.connectPacer.acquire();
    await say('conversation 4');
    await ircd.kill();
    for (let i = 5; i <= 8; i++) await say(`conversation ${i}`);
    // Matrix is told the messages wait.
    await inMatrix(roomId, (e) => e.content.msgtype === 'm.notice' && String(e.content.body).includes('is not on IRC yet'), 'the delay notice');
    const beforeKill = received();
    await ircd.start();
    bob.close();
    bob = new IrcTestClient(ircd.host, ircd.port, 'bobby');
    await bob.connect();
    await bob.join('#chat');
    hold();
    await onIrc(privmsg('Alicia[m]', 'conversation 8'));
    const all = [...beforeKill, ...received()];
    // Every message arrived in order; one the dead server read may arrive twice, never out of order.
    expect([...new Set(all)]).toEqual(Array.from({ length: 8 }, (_, i) => `conversation ${i + 1}`));
    await waitFor(() => ircBridge().network('test')?.roster.members('#chat').includes('bobby'), 20_000, 'the bot back in #chat');
    bob.send('PRIVMSG #chat :after the outage');
    expect((await inMatrix(roomId, (e) => e.content.body === 'after the outage', 'IRC -> Matrix after the outage')).sender).toBe('@irc_test_bob:localhost');
  });

  it('the portal upgraded: its link follows the tombstone, and both directions work in the replacement room', async () => {
    const bridge = stack.host.bridge('irc')!;
    const levels = (await bridge.bot.getStateEvent(roomId, 'm.room.power_levels', '')) ?? {};
    await bridge.bot.sendState(roomId, 'm.room.power_levels', '', { ...levels, users: { ...(levels.users as Record<string, number>), [alice.userId]: 100 } });
    const { replacement_room: newRoom } = await alice.http.ok<{ replacement_room: string }>('POST', `/rooms/${enc(roomId)}/upgrade`, { body: { new_version: '11' } });
    // The portal's alias moved with the room: joining it leads to the replacement.
    expect((await alice.http.ok<{ room_id: string }>('POST', `/join/${enc('#irc_test_#chat:localhost')}`, { body: {} })).room_id).toBe(newRoom);
    await waitFor(async () => ((await bridge.links.roomFor({ network: 'test', location: '#chat' })) === newRoom ? true : null), 20_000, 'the channel link in the replacement room');
    await waitFor(async () => ((await alice.http.ok<{ joined: Record<string, unknown> }>('GET', `/rooms/${enc(newRoom)}/joined_members`)).joined[bridge.bot.userId] ? true : null), 20_000, 'the bot in the replacement room');
    await send(newRoom, { msgtype: 'm.text', body: 'from the replacement room' });
    await onIrc(privmsg('Alicia[m]', 'from the replacement room'));
    bob.send('PRIVMSG #chat :into the replacement room');
    expect((await inMatrix(newRoom, (e) => e.content.body === 'into the replacement room', 'IRC -> Matrix in the replacement room')).sender).toBe('@irc_test_bob:localhost');
  });

  it('a DM upgraded (the bot was never in it): the PM link moves, and the ghost answers in the replacement room', async () => {
    const { replacement_room: newDm } = await alice.http.ok<{ replacement_room: string }>('POST', `/rooms/${enc(dmRoomId)}/upgrade`, { body: { new_version: '11' } });
    const bridge = stack.host.bridge('irc')!;
    await waitFor(async () => ((await bridge.links.remotesFor(newDm)).length > 0 ? true : null), 20_000, 'the PM link in the replacement room');
    // The ghost was the bridge's only user in the DM: it follows, so the new room's events reach the bridge.
    await waitFor(async () => ((await alice.http.ok<{ joined: Record<string, unknown> }>('GET', `/rooms/${enc(newDm)}/joined_members`)).joined['@irc_test_bob:localhost'] ? true : null), 20_000, 'the ghost in the replacement room');
    await send(newDm, { msgtype: 'm.text', body: 'psst, new room' });
    await onIrc((l) => l.command === 'PRIVMSG' && l.params[0] === 'bobby' && l.params[1] === 'psst, new room');
    bob.send('PRIVMSG Alicia[m] :got it');
    expect((await inMatrix(newDm, (e) => e.content.body === 'got it', 'the PM answer in the replacement room')).sender).toBe('@irc_test_bob:localhost');
  });
});
