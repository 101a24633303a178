// Ghost identities across a bridge restart where the server tells accounts (IRCv3 extended-join,
// account-tag, account-notify): the IRC plugin with a fake BridgeContext against the scripted IRCv3
// server. (Identity by nick alone, with ngircd, is covered end to end in test/irc/e2e.test.ts.)
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import type { IrcBridge } from '../IrcBridge.js';
import type { IrcPluginConfig } from '../IrcConfig.js';
import createIrcBridge from '../index.js';
import { createFakeContext } from 'patchbay-matrix/plugin/testing';
import { ircDescriptor } from '../IrcBridge.js';
import { DEFAULT_CAPS, ScriptedIrcv3Server } from './ScriptedIrcv3Server.js';

const server = new ScriptedIrcv3Server({ caps: [...DEFAULT_CAPS, 'extended-join', 'account-tag', 'account-notify'] });
let fake: ReturnType<typeof createFakeContext<IrcPluginConfig>>;
let bridge: IrcBridge;
let roomId = '';

const CAROL = '@irc_v3_carol:hs.test';

async function startBridge(): Promise<void> {
  const before = server.clients.length;
  bridge = createIrcBridge() as IrcBridge;
  await bridge.start(fake.ctx);
  // The new connection, not the old one whose QUIT the server may not have read yet.
  await fake.hs.waitFor(() => server.clients.slice(before).some((c) => c.nick === 'PatchbayBot' && c.channels.has('#v3')), 10_000, 'the new bot in #v3');
}

function sender(body: string): Promise<string> {
  return fake.hs.waitFor(() => fake.hs.messages(roomId).find((e) => e.content.body === body)?.sender, 10_000, `"${body}" in Matrix`);
}

beforeAll(async () => {
  await server.start();
  fake = createFakeContext<IrcPluginConfig>(ircDescriptor, {
    networks: { v3: { host: '127.0.0.1', port: server.port, limits: { lines_per_second: 100, burst: 20, connect_interval_ms: 0, reconnect_initial_ms: 20 } } },
  });
  bridge = createIrcBridge() as IrcBridge;
  await bridge.start(fake.ctx);
  expect(await bridge.onAliasQuery('#irc_v3_#v3:hs.test')).toBe(true);
  roomId = fake.hs.aliases.get('#irc_v3_#v3:hs.test') as string;
  await fake.hs.waitFor(() => server.client('PatchbayBot')?.channels.has('#v3'), 10_000, 'the bot in #v3');
});

afterAll(async () => {
  await bridge?.stop();
  await server.stop();
});

describe('ghost identity by IRC account, across a restart', () => {
  test('the bot asks for the account capabilities the server offers', () => {
    const caps = server.client('PatchbayBot')?.caps ?? new Set<string>();
    for (const cap of ['extended-join', 'account-tag', 'account-notify']) expect(caps.has(cap)).toBe(true);
  });

  test('before the restart: carol (account carolacct) speaks, then changes nick; still one ghost', async () => {
    // The bot saw carol in NAMES (no account there); her message's account tag binds the account.
    server.broadcast('@account=carolacct;msgid=c1 :carol!c@h PRIVMSG #v3 :hello');
    expect(await sender('hello')).toBe(CAROL);
    server.broadcast(':carol!c@h NICK carol_afk');
    await fake.hs.waitFor(() => fake.hs.profiles.get(CAROL)?.displayName === 'carol_afk', 10_000, 'the rename');
    expect(fake.store.data.get('ghost/v3/account/carolacct')).toBe('carol');
    expect(fake.store.data.get('ghost/v3/nick/carol_afk')).toBe('carol');
  });

  test('after the restart her account brings back her ghost under any nick; her old nick without the account does not', async () => {
    await bridge.stop();
    await startBridge();
    // A nick never seen before, joining with the account (extended-join), then speaking.
    server.broadcast(':cazza!c@h JOIN #v3 carolacct :Carol');
    server.broadcast('@account=carolacct;msgid=c2 :cazza!c@h PRIVMSG #v3 :it is me');
    expect(await sender('it is me')).toBe(CAROL);
    // Someone on her old nick, not logged in (account-tag on, no tag): a ghost of their own.
    server.broadcast('@msgid=c3 :carol_afk!x@elsewhere PRIVMSG #v3 :me too');
    expect(await sender('me too')).toBe('@irc_v3_carol_afk:hs.test');
    // The server's NAMES listed a "carol" after the restart: not carol's ghost either (the nick was hers).
    server.broadcast('@msgid=c4 :carol!y@h PRIVMSG #v3 :and me');
    expect(await sender('and me')).not.toBe(CAROL);
  });

  test('account-notify: a nick that logs in to an account moves to that account\'s ghost', async () => {
    server.broadcast(':erin!e@h JOIN #v3 erinacct :Erin');
    await fake.hs.waitFor(() => fake.hs.room(roomId).members.get('@irc_v3_erin:hs.test') === 'join', 10_000, 'erin joined');
    server.broadcast(':erin!e@h PART #v3 :brb');
    await fake.hs.waitFor(() => fake.hs.room(roomId).members.get('@irc_v3_erin:hs.test') === 'leave', 10_000, 'erin left');
    // Back under another nick, not logged in yet (extended-join says "*"): a ghost of that nick.
    server.broadcast(':ezra!e@h JOIN #v3 * :Erin');
    server.broadcast('@msgid=e1 :ezra!e@h PRIVMSG #v3 :not logged in yet');
    expect(await sender('not logged in yet')).toBe('@irc_v3_ezra:hs.test');
    server.broadcast(':ezra!e@h ACCOUNT erinacct');
    server.broadcast('@account=erinacct;msgid=e2 :ezra!e@h PRIVMSG #v3 :now I am');
    expect(await sender('now I am')).toBe('@irc_v3_erin:hs.test');
    // The nick's interim ghost left the room and the account's ghost is in it.
    expect(fake.hs.room(roomId).members.get('@irc_v3_ezra:hs.test')).toBe('leave');
    expect(fake.hs.room(roomId).members.get('@irc_v3_erin:hs.test')).toBe('join');
  });
});
