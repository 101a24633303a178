// Redactions both ways where IRC can carry them (IRCv3 draft/message-redaction with echo-message msgids),
// and silence where it cannot: the IRC plugin with a fake BridgeContext against two scripted IRCv3
// servers, one offering message-redaction and one not.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { pino } from 'pino';
import type { EventContext, MatrixEvent } from 'patchbay-matrix/plugin';
import type { IrcBridge } from '../IrcBridge.js';
import type { IrcPluginConfig } from '../IrcConfig.js';
import createIrcBridge from '../index.js';
import { createFakeContext } from 'patchbay-matrix/plugin/testing';
import { ircDescriptor } from '../IrcBridge.js';
import { DEFAULT_CAPS, ScriptedIrcv3Server } from './ScriptedIrcv3Server.js';

const ALICE = '@alice:hs.test';
const redacting = new ScriptedIrcv3Server({ caps: [...DEFAULT_CAPS, 'draft/message-redaction'] });
const plain = new ScriptedIrcv3Server();
let fake: ReturnType<typeof createFakeContext<IrcPluginConfig>>;
let bridge: IrcBridge;
let counter = 0;

const limits = { lines_per_second: 100, burst: 20, connect_interval_ms: 0, reconnect_initial_ms: 20, reconnect_max_ms: 100 };

function event(room: string, sender: string, type: string, content: Record<string, unknown>, extra: Partial<MatrixEvent> = {}): MatrixEvent {
  return { event_id: `$red${++counter}`, room_id: room, sender, type, content, origin_server_ts: Date.now(), ...extra };
}

async function matrix(e: MatrixEvent): Promise<MatrixEvent> {
  fake.hs.rememberUserEvent(e);
  const ctx: EventContext = { attempt: 1, relation: {}, fromBridge: e.sender.startsWith('@irc_'), logger: pino({ level: 'silent' }) };
  await bridge.onMatrixEvent(e, ctx);
  return e;
}

async function portal(network: string, server: ScriptedIrcv3Server): Promise<string> {
  expect(await bridge.onAliasQuery(`#irc_${network}_#v3:hs.test`)).toBe(true);
  const roomId = fake.hs.aliases.get(`#irc_${network}_#v3:hs.test`) as string;
  await fake.hs.waitFor(() => server.client('PatchbayBot')?.channels.has('#v3'), 10_000, `the bot in #v3 on ${network}`);
  fake.hs.room(roomId).members.set(ALICE, 'join');
  return roomId;
}

/** Alice says something; resolves once the server echoed it and the bridge recorded its msgid (or the line arrived). */
async function say(roomId: string, server: ScriptedIrcv3Server, body: string): Promise<MatrixEvent> {
  const e = await matrix(event(roomId, ALICE, 'm.room.message', { msgtype: 'm.text', body }));
  await fake.hs.waitFor(() => server.sent('Alice[m]', 'PRIVMSG').some((l) => l.endsWith(`:${body}`)), 10_000, `"${body}" on IRC`);
  return e;
}

beforeAll(async () => {
  await Promise.all([redacting.start(), plain.start()]);
  fake = createFakeContext<IrcPluginConfig>(ircDescriptor, {
    networks: {
      v3: { host: '127.0.0.1', port: redacting.port, limits },
      plain: { host: '127.0.0.1', port: plain.port, limits },
    },
  });
  fake.hs.profiles.set(ALICE, { displayName: 'Alice' });
  bridge = createIrcBridge() as IrcBridge;
  await bridge.start(fake.ctx);
});

afterAll(async () => {
  await bridge?.stop();
  await Promise.all([redacting.stop(), plain.stop()]);
});

describe('redactions over IRCv3 message-redaction', () => {
  let roomId = '';

  test('Matrix -> IRC: a user redacting their own message sends REDACT with the msgid the server echoed', async () => {
    roomId = await portal('v3', redacting);
    const mine = await say(roomId, redacting, 'take this back');
    await fake.hs.waitFor(() => fake.store.data.has(`redactable/${mine.event_id}`), 10_000, 'the echoed msgid recorded');
    const msgid = (JSON.parse(fake.store.data.get(`redactable/${mine.event_id}`) as string) as { msgids: string[] }).msgids[0] as string;
    expect(await fake.ctx.messages.eventFor({ network: 'v3', location: '#v3', messageId: msgid })).toEqual({ roomId, eventId: mine.event_id });
    await matrix(event(roomId, ALICE, 'm.room.redaction', { reason: 'typo' }, { redacts: mine.event_id }));
    await fake.hs.waitFor(() => redacting.sent('Alice[m]', 'REDACT').length > 0, 10_000, 'REDACT on IRC');
    expect(redacting.sent('Alice[m]', 'REDACT')).toEqual([`REDACT #v3 ${msgid} :typo`]);
    // The relayed REDACT of our own puppet does not come back to Matrix as a second redaction.
    expect(fake.hs.events.filter((e) => e.type === 'm.room.redaction')).toEqual([]);
  });

  test('a multi-line message is taken back line by line; room version 11 puts `redacts` in the content', async () => {
    const two = await matrix(event(roomId, ALICE, 'm.room.message', { msgtype: 'm.text', body: 'first line\nsecond line' }));
    await fake.hs.waitFor(() => redacting.sent('Alice[m]', 'PRIVMSG').some((l) => l.endsWith(':second line')), 10_000, 'both lines');
    await fake.hs.waitFor(() => (JSON.parse(fake.store.data.get(`redactable/${two.event_id}`) ?? '{"msgids":[]}') as { msgids: string[] }).msgids.length === 2, 10_000, 'two msgids');
    const before = redacting.sent('Alice[m]', 'REDACT').length;
    await matrix(event(roomId, ALICE, 'm.room.redaction', { redacts: two.event_id }));
    await fake.hs.waitFor(() => redacting.sent('Alice[m]', 'REDACT').length === before + 2, 10_000, 'two REDACTs');
  });

  test('only the author takes a message back: a moderator\'s redaction, or a repeat of the event, sends nothing', async () => {
    const mine = await say(roomId, redacting, 'moderated');
    await fake.hs.waitFor(() => fake.store.data.has(`redactable/${mine.event_id}`), 10_000, 'msgid recorded');
    const before = redacting.sent('Alice[m]', 'REDACT').length;
    await matrix(event(roomId, '@mod:hs.test', 'm.room.redaction', {}, { redacts: mine.event_id }));
    const own = await matrix(event(roomId, ALICE, 'm.room.redaction', {}, { redacts: mine.event_id }));
    await matrix(own);
    await fake.hs.waitFor(() => redacting.sent('Alice[m]', 'REDACT').length === before + 1, 10_000, 'one REDACT');
    // A marker line proves nothing else was on its way.
    await say(roomId, redacting, 'marker');
    expect(redacting.sent('Alice[m]', 'REDACT')).toHaveLength(before + 1);
  });

  test('IRC -> Matrix: a REDACT by the author redacts the mapped event as their ghost; unknown msgids are ignored', async () => {
    redacting.broadcast('@msgid=carol1;time=2024-01-01T00:00:00.000Z :carol!c@h PRIVMSG #v3 :oops, wrong channel');
    const said = await fake.hs.waitFor(() => fake.hs.messages(roomId).find((e) => e.content.body === 'oops, wrong channel'), 10_000, 'carol\'s message');
    redacting.broadcast(':carol!c@h REDACT #v3 nosuchmsgid :whatever');
    redacting.broadcast(':carol!c@h REDACT #v3 carol1 :never mind');
    const redaction = await fake.hs.waitFor(() => fake.hs.events.find((e) => e.type === 'm.room.redaction'), 10_000, 'the redaction');
    expect(redaction).toMatchObject({ roomId, sender: '@irc_v3_carol:hs.test', content: { redacts: said.eventId, reason: 'Redacted on IRC by carol: never mind' } });
    expect(fake.hs.events.filter((e) => e.type === 'm.room.redaction')).toHaveLength(1);
  });

  test('an IRC operator\'s REDACT of a Matrix user\'s line redacts the Matrix event', async () => {
    const mine = await say(roomId, redacting, 'off-topic');
    await fake.hs.waitFor(() => fake.store.data.has(`redactable/${mine.event_id}`), 10_000, 'msgid recorded');
    const msgid = (JSON.parse(fake.store.data.get(`redactable/${mine.event_id}`) as string) as { msgids: string[] }).msgids[0] as string;
    redacting.broadcast(`:carol!c@h REDACT #v3 ${msgid} :off-topic`);
    const redaction = await fake.hs.waitFor(() => fake.hs.events.find((e) => e.type === 'm.room.redaction' && e.content.redacts === mine.event_id), 10_000, 'the redaction');
    expect(redaction.content.reason).toBe('Redacted on IRC by carol: off-topic');
  });
});

describe('redactions in a PM', () => {
  test('a REDACT of a PM to a Matrix user\'s puppet redacts it in the DM', async () => {
    redacting.broadcast('@msgid=pm1 :carol!c@h PRIVMSG Alice[m] :a secret');
    const pm = await fake.hs.waitFor(() => fake.hs.events.find((e) => e.type === 'm.room.message' && e.content.body === 'a secret'), 10_000, 'the PM');
    redacting.broadcast(':carol!c@h REDACT Alice[m] pm1');
    const redaction = await fake.hs.waitFor(() => fake.hs.events.find((e) => e.type === 'm.room.redaction' && e.content.redacts === pm.eventId), 10_000, 'the PM redaction');
    expect(redaction).toMatchObject({ roomId: pm.roomId, sender: '@irc_v3_carol:hs.test' });
  });
});

describe('where IRC cannot redact', () => {
  test('no message-redaction on the server: nothing is sent, nothing is said in the room', async () => {
    const roomId = await portal('plain', plain);
    const mine = await say(roomId, plain, 'stays on irc');
    // echo-message still maps the msgid; only the capability is missing.
    await fake.hs.waitFor(() => fake.store.data.has(`redactable/${mine.event_id}`), 10_000, 'msgid recorded');
    await matrix(event(roomId, ALICE, 'm.room.redaction', {}, { redacts: mine.event_id }));
    await say(roomId, plain, 'marker after');
    expect(plain.sent('Alice[m]', 'REDACT')).toEqual([]);
    expect(fake.hs.notices(roomId)).toEqual([]);
  });

  test('a redaction of a message the bridge has no msgid for (another bridge\'s, or too old) is ignored quietly', async () => {
    const roomId = fake.hs.aliases.get('#irc_v3_#v3:hs.test') as string;
    const before = redacting.sent('Alice[m]', 'REDACT').length;
    await matrix(event(roomId, ALICE, 'm.room.redaction', {}, { redacts: '$never-bridged:hs.test' }));
    await say(roomId, redacting, 'marker again');
    expect(redacting.sent('Alice[m]', 'REDACT')).toHaveLength(before);
    expect(fake.hs.notices(roomId)).toEqual([]);
  });
});
