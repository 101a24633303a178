// The IRC plugin through its public interface (BridgePlugin, queries, third-party lookups) with a
// hand-written BridgeContext on the Matrix side and a real ngircd on the IRC side.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { pino } from 'pino';
import type { EventContext, MatrixEvent } from 'patchbay-matrix/plugin';
import { IrcBridge } from '../IrcBridge.js';
import type { IrcPluginConfig } from '../IrcConfig.js';
import createIrcBridge from '../index.js';
import { createFakeContext } from 'patchbay-matrix/plugin/testing';
import { ircDescriptor } from '../IrcBridge.js';
import { IrcTestClient } from './IrcTestClient.js';
import { NgircdServer } from './NgircdServer.js';

const server = new NgircdServer();
const ALICE = '@alice:hs.test';
let fake: ReturnType<typeof createFakeContext<IrcPluginConfig>>;
let bridge: IrcBridge;
let bob: IrcTestClient;
let roomId: string;
let eventCounter = 0;
/** Events later tests reply to or edit after a bridge restart (the in-memory caches are gone then). */
const earlier: { matrix?: MatrixEvent; irc?: string } = {};

function config(): IrcPluginConfig {
  return {
    networks: {
      test: {
        name: 'Test IRC',
        host: server.host,
        port: server.port,
        bot: { nick: 'PatchbayBot' },
        limits: { lines_per_second: 100, burst: 20, connect_concurrency: 8, connect_interval_ms: 0, reconnect_initial_ms: 50, reconnect_max_ms: 200 },
        quit_debounce: { delay_ms: 0 },
        delay_notice_ms: 300,
      },
    },
  };
}

function event(room: string, sender: string, type: string, content: Record<string, unknown>, stateKey?: string): MatrixEvent {
  return { event_id: `$ev${++eventCounter}`, room_id: room, sender, type, content, origin_server_ts: Date.now(), ...(stateKey !== undefined ? { state_key: stateKey } : {}) };
}

function ectx(e: MatrixEvent): EventContext {
  const rel = (e.content['m.relates_to'] ?? {}) as Record<string, unknown>;
  const inReply = (rel['m.in_reply_to'] as { event_id?: string } | undefined)?.event_id;
  return {
    attempt: 1,
    relation: { ...(rel.rel_type === 'm.replace' ? { replaces: rel.event_id as string } : {}), ...(inReply !== undefined ? { inReplyTo: inReply } : {}) },
    fromBridge: e.sender.startsWith('@irc_') || e.sender === '@patchbay:hs.test',
    logger: pino({ level: 'silent' }),
  };
}

async function matrix(e: MatrixEvent): Promise<MatrixEvent> {
  fake.hs.rememberUserEvent(e);
  await bridge.onMatrixEvent(e, ectx(e));
  return e;
}

const text = (room: string, sender: string, body: string, extra: Record<string, unknown> = {}) => matrix(event(room, sender, 'm.room.message', { msgtype: 'm.text', body, ...extra }));
const ircSays = (nick: string, predicate: (t: string) => boolean) => bob.waitFor((l) => l.nick === nick && (l.command === 'PRIVMSG' || l.command === 'NOTICE') && predicate(l.params[1] ?? ''));

beforeAll(async () => {
  await server.start();
  bob = new IrcTestClient(server.host, server.port, 'bob');
  await bob.connect();
  await bob.join('#chat');
  fake = createFakeContext<IrcPluginConfig>(ircDescriptor, config());
  fake.hs.profiles.set(ALICE, { displayName: 'Alice' });
  bridge = createIrcBridge() as IrcBridge;
  await bridge.start(fake.ctx);
});

afterAll(async () => {
  await bridge?.stop();
  bob?.close();
  await server.stop();
});

describe('IRC plugin with a fake BridgeContext and a real ngircd', () => {
  test('descriptor and config schema', () => {
    expect(bridge.descriptor).toMatchObject({ protocol: 'irc', ghostPrefix: 'irc_', aliasPrefix: 'irc_' });
    expect(bridge.descriptor.configSchema).toMatchObject({ type: 'object', additionalProperties: false });
  });

  test('an alias query creates the portal room; the bot joins the channel and IRC members become ghosts', async () => {
    expect(await bridge.onAliasQuery('#irc_test_#chat:hs.test')).toBe(true);
    roomId = fake.hs.aliases.get('#irc_test_#chat:hs.test') as string;
    expect(roomId).toBeDefined();
    await bob.waitFor((l) => l.command === 'JOIN' && l.nick === 'PatchbayBot');
    await fake.hs.waitFor(() => fake.hs.room(roomId).members.get('@irc_test_bob:hs.test') === 'join', 15_000, 'bob ghost joined');
    expect(fake.hs.profiles.get('@irc_test_bob:hs.test')?.displayName).toBe('bob');
    // The same channel by another alias form reuses the room.
    expect(await bridge.onAliasQuery('#irc_test_chat:hs.test')).toBe(true);
    expect(fake.hs.aliases.get('#irc_test_chat:hs.test')).toBe(roomId);
    expect(await bridge.onAliasQuery('#irc_nonet_#chat:hs.test')).toBe(false);
    expect(await bridge.onAliasQuery('#other_test_#chat:hs.test')).toBe(false);
  });

  test('Matrix -> IRC: text, emote, notice and HTML formatting through the user\'s own puppet', async () => {
    fake.hs.room(roomId).members.set(ALICE, 'join');
    await text(roomId, ALICE, 'hello irc');
    expect((await ircSays('Alice[m]', (t) => t === 'hello irc')).command).toBe('PRIVMSG');
    await matrix(event(roomId, ALICE, 'm.room.message', { msgtype: 'm.emote', body: 'waves' }));
    await ircSays('Alice[m]', (t) => t === '\x01ACTION waves\x01');
    await matrix(event(roomId, ALICE, 'm.room.message', { msgtype: 'm.notice', body: 'fyi' }));
    expect((await ircSays('Alice[m]', (t) => t === 'fyi')).command).toBe('NOTICE');
    await text(roomId, ALICE, 'bold text', { format: 'org.matrix.custom.html', formatted_body: '<b>bold</b> <a href="https://matrix.to/#/@irc_test_bob:hs.test">bob</a>' });
    await ircSays('Alice[m]', (t) => t === '\x02bold\x02 bob');
  });

  test('replies quote and highlight; edits send a short correction; CRLF cannot inject a command', async () => {
    const original = await text(roomId, ALICE, 'I like cats a lot');
    earlier.matrix = original;
    await ircSays('Alice[m]', (t) => t === 'I like cats a lot');
    await text(roomId, ALICE, '* I like dogs a lot', { 'm.new_content': { msgtype: 'm.text', body: 'I like dogs a lot' }, 'm.relates_to': { rel_type: 'm.replace', event_id: original.event_id } });
    await ircSays('Alice[m]', (t) => t === '* dogs');
    await text(roomId, ALICE, 'indeed', { 'm.relates_to': { 'm.in_reply_to': { event_id: original.event_id } } });
    await ircSays('Alice[m]', (t) => t === 'Alice[m]: "I like dogs a lot" <- indeed');
    await text(roomId, ALICE, 'one\r\nQUIT :injected\r\nPRIVMSG #chat :x');
    await ircSays('Alice[m]', (t) => t === 'PRIVMSG #chat :x');
    expect(bob.lines.some((l) => l.command === 'QUIT' && l.nick === 'Alice[m]')).toBe(false);
    // A retried event (at-least-once delivery) is not sent twice.
    const once = event(roomId, ALICE, 'm.room.message', { msgtype: 'm.text', body: 'only once' });
    await matrix(once);
    await matrix(once);
    await ircSays('Alice[m]', (t) => t === 'only once');
    await text(roomId, ALICE, 'marker after once');
    await ircSays('Alice[m]', (t) => t === 'marker after once');
    expect(bob.texts('#chat').filter((t) => t === 'only once')).toHaveLength(1);
  });

  test('IRC -> Matrix: text with formatting and a mention pill, action, notice, from the ghost', async () => {
    bob.send('PRIVMSG #chat :\x02hey\x02 Alice[m]: look');
    bob.send('PRIVMSG #chat :\x01ACTION dances\x01');
    bob.send('NOTICE #chat :note');
    const notice = await fake.hs.waitFor(() => fake.hs.messages(roomId).find((e) => e.content.body === 'note'));
    expect(notice).toMatchObject({ sender: '@irc_test_bob:hs.test', content: { msgtype: 'm.notice' } });
    const first = fake.hs.messages(roomId).find((e) => e.content.body === 'hey Alice[m]: look');
    expect(first?.content).toMatchObject({
      msgtype: 'm.text',
      format: 'org.matrix.custom.html',
      formatted_body: '<b>hey</b> <a href="https://matrix.to/#/%40alice%3Ahs.test">Alice[m]</a>: look',
      'm.mentions': { user_ids: [ALICE] },
    });
    expect(fake.hs.messages(roomId).find((e) => e.content.body === 'dances')?.content.msgtype).toBe('m.emote');
    // A Matrix reply to an IRC message quotes the IRC author.
    const ircEvent = first?.eventId as string;
    earlier.irc = ircEvent;
    await text(roomId, ALICE, 'seen', { 'm.relates_to': { 'm.in_reply_to': { event_id: ircEvent } } });
    await ircSays('Alice[m]', (t) => t === 'bob: "hey Alice[m]: look" <- seen');
  });

  test('topic both ways; IRC nick change renames the same ghost; kick mirrors as a kick', async () => {
    bob.send('TOPIC #chat :IRC topic');
    await fake.hs.waitFor(() => fake.hs.room(roomId).state.get('m.room.topic|')?.topic === 'IRC topic', 15_000, 'topic');
    await matrix(event(roomId, ALICE, 'm.room.topic', { topic: 'Matrix topic' }, ''));
    await bob.waitFor((l) => l.command === 'TOPIC' && l.params[1] === 'Matrix topic' && l.nick === 'Alice[m]');
    bob.send('NICK bobby');
    await fake.hs.waitFor(() => fake.hs.profiles.get('@irc_test_bob:hs.test')?.displayName === 'bobby', 15_000, 'rename');
    bob.send('PRIVMSG #chat :still me');
    expect((await fake.hs.waitFor(() => fake.hs.messages(roomId).find((e) => e.content.body === 'still me'))).sender).toBe('@irc_test_bob:hs.test');
    const carol = new IrcTestClient(server.host, server.port, 'carol');
    await carol.connect();
    await carol.join('#chat');
    await fake.hs.waitFor(() => fake.hs.room(roomId).members.get('@irc_test_carol:hs.test') === 'join', 15_000, 'carol joined');
    bob.send('KICK #chat carol :bye carol');
    const kick = await fake.hs.waitFor(() => fake.hs.events.find((e) => e.type === 'm.room.member' && e.stateKey === '@irc_test_carol:hs.test' && e.content.membership === 'leave'));
    expect(kick.content.reason).toBe('Kicked on IRC by bobby: bye carol');
    carol.close();
    bob.send('NICK bob');
    await fake.hs.waitFor(() => fake.hs.profiles.get('@irc_test_bob:hs.test')?.displayName === 'bob', 15_000, 'rename back');
  });

  test('PMs: IRC -> Matrix opens a DM from the ghost; Matrix replies there reach the nick; a DM the user starts works too', async () => {
    bob.send('PRIVMSG Alice[m] :psst');
    const pm = await fake.hs.waitFor(() => fake.hs.events.find((e) => e.type === 'm.room.message' && e.content.body === 'psst'));
    expect(pm.sender).toBe('@irc_test_bob:hs.test');
    const dm = fake.hs.room(pm.roomId);
    expect(dm.createOptions).toMatchObject({ is_direct: true, invite: [ALICE] });
    dm.members.set(ALICE, 'join');
    await text(pm.roomId, ALICE, 'private answer');
    await bob.waitFor((l) => l.command === 'PRIVMSG' && l.params[0] === 'bob' && l.nick === 'Alice[m]' && l.params[1] === 'private answer');
    const carol = new IrcTestClient(server.host, server.port, 'carol2');
    await carol.connect();
    const own = fake.hs.createUserRoom(ALICE, ['@irc_test_carol2:hs.test']);
    await matrix(event(own, ALICE, 'm.room.member', { membership: 'invite', is_direct: true }, '@irc_test_carol2:hs.test'));
    expect(fake.hs.room(own).members.get('@irc_test_carol2:hs.test')).toBe('join');
    await text(own, ALICE, 'hi carol');
    await carol.waitFor((l) => l.command === 'PRIVMSG' && l.params[1] === 'hi carol' && l.nick === 'Alice[m]');
    carol.send('PRIVMSG Alice[m] :hi alice');
    await fake.hs.waitFor(() => fake.hs.messages(own).find((e) => e.content.body === 'hi alice' && e.sender === '@irc_test_carol2:hs.test'));
    carol.close();
  });

  test('admin room: help on invite, !nick, !whois, !join, bad input answered', async () => {
    const admin = fake.hs.createUserRoom(ALICE, ['@irc_bridge:hs.test']);
    await matrix(event(admin, ALICE, 'm.room.member', { membership: 'invite', is_direct: true }, '@irc_bridge:hs.test'));
    expect(fake.hs.notices(admin)[0]).toContain('!nick');
    const command = async (body: string): Promise<string> => {
      const before = fake.hs.notices(admin).length;
      await text(admin, ALICE, body);
      return fake.hs.waitFor(() => fake.hs.notices(admin)[before], 15_000, body);
    };
    expect(await command('!nick AliceW')).toBe('Your nick on test is now AliceW.');
    await bob.waitFor((l) => l.command === 'NICK' && l.params[0] === 'AliceW');
    expect(await command('!nick bad\u0007nick')).toContain('not a valid IRC nick');
    expect(await command('!whois bob')).toContain('bob is ~bob@127.0.0.1');
    expect(await command('!join #elsewhere')).toBe('Invited you to #irc_test_#elsewhere:hs.test (#elsewhere on test).');
    expect(fake.hs.room(fake.hs.aliases.get('#irc_test_#elsewhere:hs.test') as string).members.get(ALICE)).toBe('invite');
    expect(await command('!join nochannel')).toContain('Usage');
    expect(await command('!frobnicate')).toContain('Unknown command');
    await text(roomId, ALICE, 'as AliceW now');
    await ircSays('AliceW', (t) => t === 'as AliceW now');
  });

  test('Matrix membership: a display name change renames the puppet; leaving the room parts the channel', async () => {
    const BEN = '@ben:hs.test';
    fake.hs.profiles.set(BEN, { displayName: 'Ben' });
    fake.hs.room(roomId).members.set(BEN, 'join');
    await text(roomId, BEN, 'ben here');
    await ircSays('Ben[m]', (t) => t === 'ben here');
    await matrix(event(roomId, BEN, 'm.room.member', { membership: 'join', displayname: 'Benjamin' }, BEN));
    await bob.waitFor((l) => l.command === 'NICK' && l.nick === 'Ben[m]' && l.params[0] === 'Benjamin[m]');
    await matrix(event(roomId, BEN, 'm.room.member', { membership: 'leave' }, BEN));
    await bob.waitFor((l) => l.command === 'PART' && l.nick === 'Benjamin[m]');
  });

  test('an undeliverable message (banned) produces a visible notice in the room', async () => {
    bob.send('MODE #chat +b AliceW!*@*');
    await bob.waitFor((l) => l.command === 'MODE' && l.params[1] === '+b');
    await text(roomId, ALICE, 'can anyone hear me');
    const notice = await fake.hs.waitFor(() => fake.hs.notices(roomId).find((n) => n.startsWith('Not delivered to IRC')));
    expect(notice).toContain('can anyone hear me');
    bob.send('MODE #chat -b AliceW!*@*');
    await bob.waitFor((l) => l.command === 'MODE' && l.params[1] === '-b');
  });

  test('third-party protocol: networks as instances; user and location lookups both ways', async () => {
    const protocol = bridge.thirdPartyProtocol();
    expect(protocol.instances).toEqual([{ desc: 'Test IRC', network_id: 'test', fields: { network: 'test' } }]);
    expect(await bridge.lookupThirdPartyUser({ network: 'test', nickname: 'bob' })).toEqual([{ userid: '@irc_test_bob:hs.test', protocol: 'irc', fields: { network: 'test', nickname: 'bob' } }]);
    expect((await bridge.lookupThirdPartyUser({ network: 'test', nickname: 'AliceW' }))[0]?.userid).toBe(ALICE);
    expect(await bridge.lookupThirdPartyUser({ network: 'test', nickname: 'bad nick' })).toEqual([]);
    expect(await bridge.lookupThirdPartyLocation({ network: 'test', channel: '#chat' })).toEqual([{ alias: '#irc_test_#chat:hs.test', protocol: 'irc', fields: { network: 'test', channel: '#chat' } }]);
    expect(await bridge.thirdPartyUsersOf('@irc_test_bob:hs.test')).toEqual([{ userid: '@irc_test_bob:hs.test', protocol: 'irc', fields: { network: 'test', nickname: 'bob' } }]);
    expect(await bridge.onUserQuery('@irc_test_someone:hs.test')).toBe(true);
    expect(await bridge.onUserQuery('@irc_nonet_someone:hs.test')).toBe(false);
    expect(await bridge.onUserQuery('@other:hs.test')).toBe(false);
  });

  test('IRC down: a visible "not yet" notice, then delivery after the restart — even across a bridge restart', async () => {
    await server.kill();
    await text(roomId, ALICE, 'said while IRC was down');
    await fake.hs.waitFor(() => fake.hs.notices(roomId).find((n) => n.includes('is not on IRC yet')), 15_000, 'delay notice');
    // The bridge restarts before IRC is back: the message is kept in the plugin store and resent.
    await bridge.stop();
    bridge = createIrcBridge() as IrcBridge;
    await bridge.start(fake.ctx);
    await server.start();
    bob.close();
    await bob.connect();
    await bob.join('#chat');
    await ircSays('AliceW', (t) => t === 'said while IRC was down');
  });

  test('after that restart, replies still quote and edits still correct: the originals come from the homeserver', async () => {
    const original = earlier.matrix as MatrixEvent;
    await text(roomId, ALICE, 'replying to old irc', { 'm.relates_to': { 'm.in_reply_to': { event_id: earlier.irc } } });
    await ircSays('AliceW', (t) => t === 'bob: "hey Alice[m]: look" <- replying to old irc');
    await text(roomId, ALICE, 'replying to my own', { 'm.relates_to': { 'm.in_reply_to': { event_id: original.event_id } } });
    await ircSays('AliceW', (t) => t === 'AliceW: "I like cats a lot" <- replying to my own');
    // The homeserver has the original text (edits are separate events): the correction is against it.
    await text(roomId, ALICE, '* I like birds a lot', { 'm.new_content': { msgtype: 'm.text', body: 'I like birds a lot' }, 'm.relates_to': { rel_type: 'm.replace', event_id: original.event_id } });
    await ircSays('AliceW', (t) => t === '* birds');
    // An event the homeserver does not have: the reply goes out without a quote, the edit as the new text.
    await text(roomId, ALICE, 'reply to nothing', { 'm.relates_to': { 'm.in_reply_to': { event_id: '$unknown:hs.test' } } });
    await ircSays('AliceW', (t) => t === 'reply to nothing');
  });
});
