// IRCv3 behaviour ngircd does not offer (SASL PLAIN, server-time, echo-message, msgid), against a small
// scripted server speaking just enough of the protocol. A unit test: the scripted server is a mock.
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { pino } from 'pino';
import { normalizeNetworks } from '../IrcConfig.js';
import { IrcNetwork } from '../IrcNetwork.js';
import { RecordingSink } from './RecordingSink.js';
import { ScriptedIrcv3Server, type ScriptedClient as Client } from './ScriptedIrcv3Server.js';

const logger = pino({ level: process.env.PATCHBAY_TEST_LOG ?? 'silent' });

const server = new ScriptedIrcv3Server({ sasl: { botacct: 'secret' } });
const sink = new RecordingSink();
let network: IrcNetwork;

beforeAll(async () => {
  await server.start();
  const [settings] = normalizeNetworks({
    networks: {
      v3: {
        host: '127.0.0.1',
        port: server.port,
        bot: { nick: 'bridgebot', sasl: { account: 'botacct', password: 'secret' } },
        limits: { lines_per_second: 100, burst: 10, connect_interval_ms: 0, reconnect_initial_ms: 20, reconnect_max_attempts: 1 },
      },
    },
  });
  network = new IrcNetwork(settings!, sink, logger);
  await network.start();
  await network.addChannel('#v3');
});

afterAll(async () => {
  await network?.stop();
  await server.stop();
});

test('the bot authenticates with SASL PLAIN and negotiates server-time and echo-message', () => {
  const bot = server.clients.find((c) => c.nick === 'bridgebot') as Client;
  expect(bot.received).toContain('AUTHENTICATE PLAIN');
  const req = bot.received.find((l) => l.startsWith('CAP REQ'));
  for (const cap of ['sasl', 'server-time', 'echo-message', 'message-tags']) expect(req).toContain(cap);
  // No credentials leak into the log of lines: the PLAIN blob is only ever sent after the server's '+'.
  expect(bot.received.indexOf('AUTHENTICATE PLAIN')).toBeLessThan(bot.received.findIndex((l) => l.startsWith('AUTHENTICATE ') && l !== 'AUTHENTICATE PLAIN'));
  expect(network.bot.client.network.cap.isEnabled('echo-message')).toBe(true);
});

test('server-time and msgid of IRC messages reach the Matrix side', async () => {
  server.broadcast('@time=2020-01-02T03:04:05.000Z;msgid=abc123 :carol!c@h PRIVMSG #v3 :old news');
  const msg = await sink.waitFor((e) => e.type === 'message' && e.text === 'old news');
  expect(msg).toMatchObject({ time: Date.UTC(2020, 0, 2, 3, 4, 5), msgid: 'abc123', from: { nick: 'carol', ghost: 'v3_carol' } });
});

test('echo-message: a puppet\'s own echoed line is not mirrored back to Matrix', async () => {
  await network.sendAs('@dana:hs', 'Dana', null, '#v3', 'hello v3', 'privmsg');
  const puppet = server.clients.find((c) => c.nick === 'Dana[m]') as Client;
  expect(puppet.received).toContain('PRIVMSG #v3 :hello v3');
  server.broadcast(':carol!c@h PRIVMSG #v3 :after');
  await sink.waitFor((e) => e.type === 'message' && e.text === 'after');
  expect(sink.of('message').map((e) => e.text)).toEqual(['old news', 'after']);
});

test('a SASL failure gives up visibly instead of connecting unauthenticated', async () => {
  const [settings] = normalizeNetworks({
    networks: { bad: { host: '127.0.0.1', port: server.port, bot: { nick: 'badbot', sasl: { account: 'botacct', password: 'wrong' } } } },
  });
  const bad = new IrcNetwork(settings!, new RecordingSink(), logger);
  await expect(bad.start()).rejects.toThrow(/SASL authentication failed/);
  expect(bad.bot.state).toBe('failed');
  await bad.stop();
});
