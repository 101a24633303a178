// IrcNetwork (bot + puppets + roster) against a real ngircd, with the Matrix side recorded.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { pino } from 'pino';
import { normalizeNetworks } from '../IrcConfig.js';
import { IrcNetwork } from '../IrcNetwork.js';
import { IrcTestClient } from './IrcTestClient.js';
import { NgircdServer } from './NgircdServer.js';
import { RecordingSink } from './RecordingSink.js';

const logger = pino({ level: process.env.PATCHBAY_TEST_LOG ?? 'silent' });
const server = new NgircdServer();
const sink = new RecordingSink();
let network: IrcNetwork;
let bob: IrcTestClient;

beforeAll(async () => {
  await server.start();
  const [settings] = normalizeNetworks({
    networks: {
      test: {
        host: server.host,
        port: server.port,
        bot: { nick: 'PatchbayBot' },
        limits: { lines_per_second: 100, burst: 20, connect_concurrency: 8, connect_interval_ms: 0, reconnect_initial_ms: 50 },
        quit_debounce: { delay_ms: 0 },
      },
    },
  });
  network = new IrcNetwork(settings!, sink, logger);
  await network.start();
  bob = new IrcTestClient(server.host, server.port, 'bob');
  await bob.connect();
  await bob.join('#room');
  await network.addChannel('#room');
});

afterAll(async () => {
  await network?.stop();
  bob?.close();
  await server.stop();
});

describe('IrcNetwork against ngircd', () => {
  test('the bot sees the channel members as ghosts (itself and puppets excluded)', async () => {
    const names = await sink.waitFor((e) => e.type === 'members' && e.channel === '#room');
    expect(names.members).toEqual([{ nick: 'bob', ghost: 'test_bob' }]);
  });

  test('IRC -> Matrix: text, action and notice from an IRC user, in order, with the ghost id', async () => {
    bob.send('PRIVMSG #room :hello from irc');
    bob.send('PRIVMSG #room :\x01ACTION waves\x01');
    bob.send('NOTICE #room :a notice');
    await sink.waitFor((e) => e.type === 'message' && e.kind === 'notice');
    const msgs = sink.of('message').map((e) => [e.kind, e.text, (e.from as { ghost: string }).ghost]);
    expect(msgs).toEqual([
      ['privmsg', 'hello from irc', 'test_bob'],
      ['action', 'waves', 'test_bob'],
      ['notice', 'a notice', 'test_bob'],
    ]);
  });

  test('Matrix -> IRC: a Matrix user speaks through their own puppet, lazily connected and joined', async () => {
    await network.sendAs('@alice:hs', 'Alice', null, '#room', 'hi bob', 'privmsg');
    const line = await bob.waitFor((l) => l.command === 'PRIVMSG' && l.params[1] === 'hi bob');
    expect(line.nick).toBe('Alice[m]');
    // The bot saw the puppet join and speak: neither becomes a ghost or a message to Matrix.
    expect(sink.events.some((e) => JSON.stringify(e).includes('Alice[m]'))).toBe(false);
  });

  test('PMs both ways between a Matrix user and an IRC nick', async () => {
    await network.sendAs('@alice:hs', 'Alice', null, 'bob', 'private hello', 'privmsg');
    const pm = await bob.waitFor((l) => l.command === 'PRIVMSG' && l.params[0] === 'bob' && l.nick === 'Alice[m]');
    expect(pm.params[1]).toBe('private hello');
    bob.send('PRIVMSG Alice[m] :private reply');
    const back = await sink.waitFor((e) => e.type === 'message' && e.toUserId === '@alice:hs');
    expect(back).toMatchObject({ channel: null, text: 'private reply', from: { nick: 'bob', ghost: 'test_bob' } });
  });

  test('nick change keeps the ghost; topic; join, part and kick are mirrored', async () => {
    bob.send('NICK bobby');
    const renamed = await sink.waitFor((e) => e.type === 'nickChanged');
    expect(renamed).toMatchObject({ oldNick: 'bob', who: { nick: 'bobby', ghost: 'test_bob' } });
    bob.send('TOPIC #room :new topic');
    expect(await sink.waitFor((e) => e.type === 'topic' && e.topic === 'new topic')).toMatchObject({ by: { nick: 'bobby', ghost: 'test_bob' } });
    const carol = new IrcTestClient(server.host, server.port, 'carol');
    await carol.connect();
    await carol.join('#room');
    expect(await sink.waitFor((e) => e.type === 'joined' && (e.who as { nick: string }).nick === 'carol')).toMatchObject({ who: { ghost: 'test_carol' } });
    bob.send('KICK #room carol :behave');
    expect(await sink.waitFor((e) => e.type === 'left' && (e.who as { nick: string }).nick === 'carol')).toMatchObject({
      reason: 'behave',
      kickedBy: { nick: 'bobby', ghost: 'test_bob' },
    });
    carol.close();
    // A renamed person's old nick taken by a newcomer: a different ghost.
    const newBob = new IrcTestClient(server.host, server.port, 'bob');
    await newBob.connect();
    await newBob.join('#room');
    expect(await sink.waitFor((e) => e.type === 'joined' && (e.who as { nick: string }).nick === 'bob')).toMatchObject({ who: { ghost: 'test_bob.2' } });
    newBob.close();
    bob.send('NICK bob');
    await sink.waitFor((e) => e.type === 'left' && (e.who as { nick: string }).nick === 'bob');
  });

  test('a kicked puppet is reported (so its user can be told), and can come back', async () => {
    bob.send('KICK #room Alice[m] :no bridges');
    const kicked = await sink.waitFor((e) => e.type === 'puppetKicked');
    expect(kicked).toMatchObject({ channel: '#room', userId: '@alice:hs', reason: 'no bridges' });
    await network.sendAs('@alice:hs', 'Alice', null, '#room', 'I am back', 'privmsg');
    await bob.waitFor((l) => l.command === 'PRIVMSG' && l.params[1] === 'I am back');
  });

  test('an idle puppet is disconnected after the idle timeout and reconnects when its user speaks again', async () => {
    const [settings] = normalizeNetworks({
      networks: { idle: { host: server.host, port: server.port, bot: { nick: 'IdleBot' }, puppets: { idle_timeout_minutes: 0.005 }, limits: { connect_interval_ms: 0 } } },
    });
    const idleNet = new IrcNetwork(settings!, new RecordingSink(), logger);
    await idleNet.start();
    try {
      await idleNet.sendAs('@sleepy:hs', 'Sleepy', null, '#room', 'yawn', 'privmsg');
      await bob.waitFor((l) => l.nick === 'Sleepy[m]' && l.command === 'PRIVMSG' && l.params[1] === 'yawn');
      const quit = await bob.waitFor((l) => l.nick === 'Sleepy[m]' && l.command === 'QUIT');
      expect(quit.params[0]).toContain('Idle timeout');
      expect(idleNet.puppets.get('@sleepy:hs')).toBeUndefined();
      await idleNet.sendAs('@sleepy:hs', 'Sleepy', null, '#room', 'awake', 'privmsg');
      await bob.waitFor((l) => l.nick === 'Sleepy[m]' && l.command === 'PRIVMSG' && l.params[1] === 'awake');
    } finally {
      await idleNet.stop();
    }
  });

  test('50 puppets at once: each Matrix user gets their own nick and connection', async () => {
    const users = Array.from({ length: 50 }, (_, i) => `@user${i}:hs`);
    await Promise.all(users.map((u, i) => network.sendAs(u, `User ${i}`, null, '#room', `hello from ${i}`, 'privmsg')));
    const lines = await bob.waitForCount((l) => l.command === 'PRIVMSG' && /^hello from \d+$/.test(l.params[1] ?? ''), 50);
    const byText = new Map(lines.map((l) => [l.params[1], l.nick]));
    for (let i = 0; i < 50; i++) expect(byText.get(`hello from ${i}`)).toBe(`User_${i}[m]`);
    expect(new Set(lines.map((l) => l.nick)).size).toBe(50);
    expect(network.puppets.size).toBe(51);
    expect(sink.events.filter((e) => e.type === 'joined' && /User_/.test(JSON.stringify(e)))).toHaveLength(0);
  });
});
