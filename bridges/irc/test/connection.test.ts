// IrcConnection against a real ngircd: what another IRC user really receives.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { pino } from 'pino';
import { ConnectPacer } from '../ConnectPacer.js';
import { IrcConnection, type IrcConnectionConfig } from '../IrcConnection.js';
import { alternativeNick } from '../PuppetNickPolicy.js';
import { IrcTestClient } from './IrcTestClient.js';
import { NgircdServer } from './NgircdServer.js';

const logger = pino({ level: process.env.PATCHBAY_TEST_LOG ?? 'silent' });
const server = new NgircdServer();
const observers: IrcTestClient[] = [];
const connections: IrcConnection[] = [];

function config(nick: string, overrides: Partial<IrcConnectionConfig> = {}): IrcConnectionConfig {
  return {
    host: server.host,
    port: server.port,
    nick,
    username: 'patchbay',
    realname: 'Patchbay test',
    linesPerSecond: 500,
    burst: 50,
    reconnect: { initialDelayMs: 50, maxDelayMs: 500, maxAttempts: 0 },
    registrationTimeoutMs: 10_000,
    echoMessage: true,
    ...overrides,
  };
}

function connection(nick: string, pacer = new ConnectPacer({ concurrency: 4, intervalMs: 0 }), overrides: Partial<IrcConnectionConfig> = {}): IrcConnection {
  const c = new IrcConnection(config(nick, overrides), pacer, logger, { alternativeNick: (n, i) => alternativeNick(n, i, 30) });
  connections.push(c);
  return c;
}

async function observer(nick: string, channel?: string): Promise<IrcTestClient> {
  const o = new IrcTestClient(server.host, server.port, nick);
  observers.push(o);
  await o.connect();
  if (channel !== undefined) await o.join(channel);
  return o;
}

beforeAll(async () => {
  await server.start();
});

afterAll(async () => {
  for (const c of connections) await c.quit('test over', 100).catch(() => undefined);
  for (const o of observers) o.close();
  await server.stop();
});

describe('IrcConnection against ngircd', () => {
  test('text, action and notice arrive as PRIVMSG, CTCP ACTION and NOTICE', async () => {
    const watcher = await observer('watcher1', '#basic');
    const alice = connection('alice');
    await alice.join('#basic');
    await alice.say('#basic', 'hello world');
    await alice.say('#basic', 'waves', 'action');
    await alice.say('#basic', 'a notice', 'notice');
    await watcher.waitFor((l) => l.command === 'NOTICE' && l.params[1] === 'a notice');
    expect(watcher.texts('#basic')).toEqual(['hello world', '\x01ACTION waves\x01']);
    expect(watcher.lines.find((l) => l.command === 'PRIVMSG')?.nick).toBe('alice');
  });

  test('a long multi-line message is split into lines within 512 bytes, nothing lost, CRLF cannot inject', async () => {
    const watcher = await observer('watcher2', '#long');
    const bob = connection('bob');
    await bob.join('#long');
    const words = Array.from({ length: 300 }, (_, i) => `wörd${i}`);
    await bob.say('#long', `${words.join(' ')}\nsecond line\r\nQUIT :injected`);
    const expectedLastLine = 'QUIT :injected';
    await watcher.waitFor((l) => l.command === 'PRIVMSG' && l.params[1] === expectedLastLine);
    const received = watcher.lines.filter((l) => l.command === 'PRIVMSG' && l.params[0] === '#long');
    for (const l of received) expect(Buffer.byteLength(`${l.raw}\r\n`)).toBeLessThanOrEqual(512);
    const texts = received.map((l) => l.params[1]);
    expect(texts.slice(-2)).toEqual(['second line', 'QUIT :injected']);
    expect(texts.slice(0, -2).join(' ').split(' ')).toEqual(words);
    expect(bob.state).toBe('registered');
  });

  test('a flood of 200 lines arrives complete and in order', async () => {
    const watcher = await observer('watcher3', '#flood');
    const carol = connection('carol', undefined, { linesPerSecond: 200, burst: 20 });
    await carol.join('#flood');
    const sends = Array.from({ length: 200 }, (_, i) => carol.say('#flood', `line ${i}`));
    await Promise.all(sends);
    const got = await watcher.waitForCount((l) => l.command === 'PRIVMSG' && l.params[0] === '#flood', 200);
    expect(got.map((l) => l.params[1])).toEqual(Array.from({ length: 200 }, (_, i) => `line ${i}`));
  });

  test('a taken nick is never stolen: the connection registers with an alternative', async () => {
    await observer('dave');
    const dave = connection('dave');
    await dave.connect();
    expect(dave.nick).toBe('dave_');
  });

  test('a message to a channel we were banned from fails visibly, its neighbours do not', async () => {
    const op = await observer('opuser', '#banned');
    const eve = connection('eve');
    await eve.join('#banned');
    await eve.join('#free');
    op.send('MODE #banned +b eve!*@*');
    await op.waitFor((l) => l.command === 'MODE' && l.params[1] === '+b');
    const fine = eve.say('#free', 'still fine');
    const blocked = eve.say('#banned', 'cannot say this');
    await expect(blocked).rejects.toThrow(/cannot send to #banned/i);
    await expect(fine).resolves.toBeUndefined();
  });
});
